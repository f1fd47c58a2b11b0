//! The 2012 paper's other details, each against a reference written here: the principal
//! components of the colour augmentation against a covariance computed by a plain loop, the
//! colour shift a batch gets, the paper's initialisation against its rule and its
//! distribution, the ten test-time views against a pad-and-copy loop and their averaged
//! prediction against ten forward passes by hand, and the paper's dropout against the
//! inverted one, over every mask.

use crate::reference::Cifar32;
use alexnet_lab::data::{
    random_crop_flip, symmetric_eigen, synthetic, ten_crops, BatchConfig, HostBatches, Images,
    Normalization, PcaLighting, IMAGE_SIZE, PCA_ALPHA_STD, PIXELS,
};
use alexnet_lab::model::{
    Article, Cifar, CifarLrn, CifarNoDropout, CifarNoNorm, CifarTanh, LeNet5, Paper,
};
use alexnet_lab::prelude::*;
use alexnet_lab::reference::{dropout_forward, dropout_paper_forward};
use alexnet_lab::train::{
    evaluate_network, evaluate_ten_crop, initialise, parameters, set_parameters,
    ten_crop_probabilities, Init,
};
use dfdx::nn::tensor_collection::TensorCollection;
use rand::{rngs::StdRng, Rng, SeedableRng};

const PLANE: usize = IMAGE_SIZE * IMAGE_SIZE;

/// The covariance of the RGB values of every pixel of `images` (scaled to `[0, 1]`), by
/// the textbook formula: mean, then mean of the centred products.
fn covariance(images: &Images) -> [[f64; 3]; 3] {
    let mut pixels: Vec<[f64; 3]> = Vec::new();
    for i in 0..images.len() {
        let img = images.image(i);
        for p in 0..PLANE {
            pixels.push([0, 1, 2].map(|c| img[c * PLANE + p] as f64 / 255.0));
        }
    }
    let n = pixels.len() as f64;
    let mut mean = [0.0; 3];
    for px in &pixels {
        for c in 0..3 {
            mean[c] += px[c] / n;
        }
    }
    let mut cov = [[0.0; 3]; 3];
    for px in &pixels {
        for a in 0..3 {
            for b in 0..3 {
                cov[a][b] += (px[a] - mean[a]) * (px[b] - mean[b]) / n;
            }
        }
    }
    cov
}

/// Checks that `l` holds unit, orthogonal eigenvectors of `cov` with eigenvalues in
/// descending order that sum to its trace; returns the largest residual |C v - λ v|.
fn check_eigenpairs(what: &str, cov: &[[f64; 3]; 3], l: &PcaLighting) -> f64 {
    let mut worst: f64 = 0.0;
    for i in 0..3 {
        let v = l.eigenvectors[i].map(|x| x as f64);
        let lambda = l.eigenvalues[i] as f64;
        for (r, row) in cov.iter().enumerate() {
            let cv: f64 = (0..3).map(|c| row[c] * v[c]).sum();
            let residual = (cv - lambda * v[r]).abs();
            assert!(
                residual < 1e-6,
                "{what}: eigenpair {i}, row {r}: {residual}"
            );
            worst = worst.max(residual);
        }
        for j in 0..3 {
            let dot: f64 = (0..3).map(|c| v[c] * l.eigenvectors[j][c] as f64).sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-6, "{what}: v{i}.v{j} = {dot}");
        }
    }
    let (e, trace) = (l.eigenvalues, cov[0][0] + cov[1][1] + cov[2][2]);
    assert!(e[0] >= e[1] && e[1] >= e[2] && e[2] >= 0.0, "{what}: {e:?}");
    let sum: f64 = e.iter().map(|&x| x as f64).sum();
    assert!((sum - trace).abs() < 1e-6, "{what}: {sum} vs trace {trace}");
    worst
}

#[test]
fn the_colour_components_are_eigenpairs_of_the_covariance() {
    let set = synthetic::generate(30, 1, 4).train;
    let cov = covariance(&set);
    let lighting = PcaLighting::from_images(&set);
    let worst = check_eigenpairs("synthetic", &cov, &lighting);
    println!(
        "eigenvalues {:?}, largest residual |Cv - lv| {worst:.2e}",
        lighting.eigenvalues
    );
    // A colourful set: every component carries some variance.
    assert!(lighting.eigenvalues[2] > 1e-4, "{:?}", lighting.eigenvalues);
}

/// Images whose every pixel is `128 + k * dir` for a random integer `k` (exact bytes).
fn along(dir: [i32; 3], n: usize, seed: u64) -> Images {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut set = Images::default();
    for _ in 0..n {
        let mut img = vec![0u8; PIXELS];
        for p in 0..PLANE {
            let k: i32 = rng.gen_range(-40..=40);
            for c in 0..3 {
                img[c * PLANE + p] = (128 + k * dir[c]) as u8;
            }
        }
        set.push(&img, 0).unwrap();
    }
    set
}

fn assert_direction(what: &str, l: &PcaLighting, dir: [f64; 3], tol: f32) {
    let norm = dir.iter().map(|x| x * x).sum::<f64>().sqrt();
    for (&got, &d) in l.eigenvectors[0].iter().zip(&dir) {
        let want = (d / norm) as f32;
        assert!((got - want).abs() < tol, "{what}: {:?}", l.eigenvectors[0]);
    }
    for i in 1..3 {
        assert!(
            l.eigenvalues[i].abs() < 1e-9 * l.eigenvalues[0].max(1.0),
            "{what}: {:?}",
            l.eigenvalues
        );
    }
}

#[test]
fn colours_that_vary_along_one_direction_give_that_direction_first() {
    let set = along([2, 1, -1], 4, 1);
    let l = PcaLighting::from_images(&set);
    check_eigenpairs("one direction", &covariance(&set), &l);
    assert_direction("one direction", &l, [2.0, 1.0, -1.0], 1e-3);
    println!("(2, 1, -1): {:?}, {:?}", l.eigenvalues, l.eigenvectors[0]);
    // Grey photos (R = G = B): brightness along (1, 1, 1) / sqrt(3) is all there is.
    let grey = along([1, 1, 1], 4, 2);
    let l = PcaLighting::from_images(&grey);
    check_eigenpairs("grey", &covariance(&grey), &l);
    assert_direction("grey", &l, [1.0, 1.0, 1.0], 1e-6);
    println!("grey: {:?}, {:?}", l.eigenvalues, l.eigenvectors[0]);
}

#[test]
fn the_colour_shift_is_one_offset_per_image_over_all_its_pixels() {
    let set = synthetic::generate(10, 1, 2).train;
    let norm = Normalization::from_images(&set);
    let lighting = PcaLighting::from_images(&set);
    let cfg = BatchConfig::train(20, true, 9);
    let plain: Vec<_> = HostBatches::new(&set, norm, cfg, IMAGE_SIZE)
        .unwrap()
        .collect();
    let lit: Vec<_> = HostBatches::new(&set, norm, cfg, IMAGE_SIZE)
        .unwrap()
        .with_lighting(lighting)
        .collect();
    assert_eq!(plain.len(), 5);
    let mut alphas: Vec<[f64; 3]> = Vec::new();
    let mut offsets: Vec<[f32; 3]> = Vec::new();
    for ((a, la), (b, lb)) in plain.iter().zip(&lit) {
        assert_eq!(la, lb, "the same images in the same order");
        for (ia, ib) in a.chunks_exact(PIXELS).zip(b.chunks_exact(PIXELS)) {
            let mut offset = [0f32; 3];
            for c in 0..3 {
                offset[c] = ib[c * PLANE] - ia[c * PLANE];
                for p in 0..PLANE {
                    let d = ib[c * PLANE + p] - ia[c * PLANE + p];
                    assert!((d - offset[c]).abs() < 1e-5, "channel {c}, pixel {p}");
                }
            }
            // Back in [0, 1] units, the offset's coordinates along the components are
            // alpha_i * lambda_i.
            let rgb: [f64; 3] = std::array::from_fn(|c| (offset[c] * norm.std[c]) as f64);
            alphas.push(std::array::from_fn(|i| {
                let along: f64 = (0..3)
                    .map(|c| rgb[c] * lighting.eigenvectors[i][c] as f64)
                    .sum();
                along / lighting.eigenvalues[i] as f64
            }));
            offsets.push(offset);
        }
    }
    for (i, o) in offsets.iter().enumerate().skip(1) {
        assert!(
            (0..3).any(|c| (o[c] - offsets[0][c]).abs() > 1e-4),
            "image {i} got image 0's shift"
        );
    }
    // The coefficients behind the 100 shifts: mean 0 and std 0.1 (within 3 standard errors).
    let n = alphas.len() as f64;
    for i in 0..3 {
        let mean = alphas.iter().map(|a| a[i]).sum::<f64>() / n;
        let std = (alphas.iter().map(|a| (a[i] - mean).powi(2)).sum::<f64>() / n).sqrt();
        let want = PCA_ALPHA_STD as f64;
        println!("alpha {i}: mean {mean:.4}, std {std:.4}");
        assert!(mean.abs() < 3.0 * want / n.sqrt(), "alpha {i}: mean {mean}");
        assert!(
            (std - want).abs() < 3.0 * want / (2.0 * n).sqrt(),
            "alpha {i}: std {std}"
        );
    }
}

/// Checks that `w` looks drawn from N(0, 0.01^2): mean within 3 standard errors of 0 and,
/// for more than 10,000 values, std within 2% of 0.01. Returns the sample std.
fn check_normal(what: &str, w: &[f32]) -> f64 {
    let n = w.len() as f64;
    let mean = w.iter().map(|&x| x as f64).sum::<f64>() / n;
    let std = (w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 3.0 * 0.01 / n.sqrt(), "{what}: mean {mean}");
    if w.len() > 10_000 {
        assert!((std - 0.01).abs() < 0.02 * 0.01, "{what}: std {std}");
    } else {
        assert!((std - 0.01).abs() < 0.2 * 0.01, "{what}: std {std}");
    }
    std
}

#[test]
fn the_papers_initialisation_follows_its_rule_in_cifar() {
    let dev = Cpu::seed_from_u64(0);
    let mut model = dev.build_module::<Cifar, f32>();
    // Every tensor set to a value of its own first, so "left as it is" can be seen.
    set_parameters(&mut model, |i, _, dims| {
        vec![0.5 + i as f32; dims.iter().product()]
    })
    .unwrap();
    let bn = |m: &Cifar32| {
        [
            (m.0 .0 .1.scale.as_vec(), m.0 .0 .1.bias.as_vec()),
            (m.1 .0 .1.scale.as_vec(), m.1 .0 .1.bias.as_vec()),
            (m.2 .1.scale.as_vec(), m.2 .1.bias.as_vec()),
            (m.3 .1.scale.as_vec(), m.3 .1.bias.as_vec()),
            (m.4 .0 .1.scale.as_vec(), m.4 .0 .1.bias.as_vec()),
        ]
    };
    let bn_before = bn(&model);
    initialise(&mut model, Init::Paper, 11).unwrap();
    assert_eq!(
        bn(&model),
        bn_before,
        "batch norm's scale and shift are untouched"
    );
    let m = &model;
    // (layer, weights, biases, the bias the rule gives)
    let layers = [
        (
            "conv 1",
            m.0 .0 .0.weight.as_vec(),
            m.0 .0 .0.bias.as_vec(),
            0.0,
        ),
        (
            "conv 2",
            m.1 .0 .0.weight.as_vec(),
            m.1 .0 .0.bias.as_vec(),
            1.0,
        ),
        ("conv 3", m.2 .0.weight.as_vec(), m.2 .0.bias.as_vec(), 0.0),
        ("conv 4", m.3 .0.weight.as_vec(), m.3 .0.bias.as_vec(), 1.0),
        (
            "conv 5",
            m.4 .0 .0.weight.as_vec(),
            m.4 .0 .0.bias.as_vec(),
            1.0,
        ),
        (
            "dense 1",
            m.5 .1 .1.weight.as_vec(),
            m.5 .1 .1.bias.as_vec(),
            1.0,
        ),
        (
            "dense 2",
            m.5 .2 .1.weight.as_vec(),
            m.5 .2 .1.bias.as_vec(),
            1.0,
        ),
        ("dense 3", m.5 .3.weight.as_vec(), m.5 .3.bias.as_vec(), 0.0),
    ];
    for (what, weights, biases, bias) in layers {
        let std = check_normal(what, &weights);
        println!("{what}: {} weights, std {std:.5}", weights.len());
        assert_eq!(biases, vec![bias; biases.len()], "{what}");
    }
}

#[test]
fn the_papers_initialisation_by_position_in_the_other_models() {
    let dev = Cpu::seed_from_u64(1);
    // LeNet-5: two convolutions, three dense layers: the second convolution and the two
    // hidden dense layers get biases of 1.
    let mut lenet = dev.build_module::<LeNet5, f32>();
    initialise(&mut lenet, Init::Paper, 2).unwrap();
    let biases = [
        (lenet.0 .0.bias.as_vec(), 0.0),
        (lenet.1 .0.bias.as_vec(), 1.0),
        (lenet.2 .1 .0.bias.as_vec(), 1.0),
        (lenet.2 .2 .0.bias.as_vec(), 1.0),
        (lenet.2 .3.bias.as_vec(), 0.0),
    ];
    for (k, (b, want)) in biases.iter().enumerate() {
        assert!(
            b.iter().all(|&x| x == *want),
            "lenet5 layer {}: {b:?}",
            k + 1
        );
    }
    check_normal("lenet5 dense 1", &lenet.2 .1 .0.weight.as_vec());
    // cifar-lrn: no batch norm; its last three convolutions sit in a shared tail.
    let mut lrn = dev.build_module::<CifarLrn, f32>();
    initialise(&mut lrn, Init::Paper, 2).unwrap();
    let ones = |v: Vec<f32>| v.iter().all(|&x| x == 1.0);
    let zeros = |v: Vec<f32>| v.iter().all(|&x| x == 0.0);
    assert!(zeros(lrn.0 .0.bias.as_vec()) && ones(lrn.1 .0.bias.as_vec()));
    assert!(zeros(lrn.2 .0 .0.bias.as_vec()) && ones(lrn.2 .1 .0.bias.as_vec()));
    assert!(ones(lrn.2 .2 .0.bias.as_vec()) && ones(lrn.2 .3 .1 .1.bias.as_vec()));
    assert!(ones(lrn.2 .3 .2 .1.bias.as_vec()) && zeros(lrn.2 .3 .3.bias.as_vec()));
    check_normal("cifar-lrn conv 3", &lrn.2 .0 .0.weight.as_vec());
    // The two 227x227 networks (the paper's has grouped convolutions).
    let mut paper = dev.build_module::<Paper, f32>();
    initialise(&mut paper, Init::Paper, 2).unwrap();
    assert!(zeros(paper.0 .0.bias.as_vec()) && ones(paper.1 .0.bias.as_vec()));
    assert!(zeros(paper.2 .0.bias.as_vec()) && ones(paper.3 .0.bias.as_vec()));
    assert!(ones(paper.4 .0.bias.as_vec()) && ones(paper.5 .1 .1.bias.as_vec()));
    assert!(ones(paper.5 .2 .1.bias.as_vec()) && zeros(paper.5 .3.bias.as_vec()));
    let std = check_normal("paper conv 2 (grouped)", &paper.1 .0.weight.as_vec());
    println!("paper conv 2: std {std:.5}");
    drop(paper);
    let mut article = dev.build_module::<Article, f32>();
    initialise(&mut article, Init::Paper, 2).unwrap();
    let a = &article;
    let conv_biases = [
        a.0 .0.bias.as_vec(),
        a.1 .0.bias.as_vec(),
        a.2 .0.bias.as_vec(),
        a.3 .0.bias.as_vec(),
        a.4 .0.bias.as_vec(),
    ]
    .map(|b| b[0]);
    assert_eq!(conv_biases, [0.0, 1.0, 0.0, 1.0, 1.0], "article");
    assert_eq!(
        a.1 .2.scale.as_vec(),
        vec![1.0; 256],
        "article: batch norm's scale"
    );
    let dense_biases = [
        a.5 .1 .0.bias.as_vec()[0],
        a.5 .2 .0.bias.as_vec()[0],
        a.5 .3.bias.as_vec()[0],
    ];
    assert_eq!(dense_biases, [1.0, 1.0, 0.0], "article");
}

#[test]
fn the_default_initialisation_is_left_alone_and_a_seed_gives_the_same_weights() {
    let mut model = Cpu::seed_from_u64(3).build_module::<Cifar, f32>();
    let fresh = parameters(&model).unwrap();
    initialise(&mut model, Init::Default, 5).unwrap();
    assert_eq!(parameters(&model).unwrap(), fresh, "Init::Default");
    // Two models of other starting weights, the same seed: the same weights.
    let mut a = Cpu::seed_from_u64(4).build_module::<Cifar, f32>();
    let mut b = Cpu::seed_from_u64(5).build_module::<Cifar, f32>();
    initialise(&mut a, Init::Paper, 7).unwrap();
    initialise(&mut b, Init::Paper, 7).unwrap();
    let (pa, pb) = (parameters(&a).unwrap(), parameters(&b).unwrap());
    assert_eq!(pa, pb);
    assert_ne!(pa, fresh);
    initialise(&mut b, Init::Paper, 8).unwrap();
    let pc = parameters(&b).unwrap();
    assert_ne!(pa[0].values, pc[0].values, "another seed, other weights");
    assert_eq!(
        "paper".parse::<Init>().unwrap(),
        Init::Paper,
        "the command line's spelling"
    );
    let err = "xavier".parse::<Init>().unwrap_err().to_string();
    assert!(
        err.contains("'xavier' is not one of default, paper"),
        "{err}"
    );
}

/// The ten views by hand: the image copied into a zero canvas of side `32 + 2 pad`, then
/// windows cut from it, then mirrored.
fn naive_ten_crops(chw: &[u8], pad: usize) -> Vec<Vec<u8>> {
    let side = IMAGE_SIZE + 2 * pad;
    let mut canvas = vec![0u8; 3 * side * side];
    for c in 0..3 {
        for y in 0..IMAGE_SIZE {
            for x in 0..IMAGE_SIZE {
                canvas[(c * side + y + pad) * side + x + pad] =
                    chw[(c * IMAGE_SIZE + y) * IMAGE_SIZE + x];
            }
        }
    }
    let far = 2 * pad;
    let mut views = Vec::new();
    for flip in [false, true] {
        for (top, left) in [(0, 0), (0, far), (far, 0), (far, far), (pad, pad)] {
            let mut v = vec![0u8; PIXELS];
            for c in 0..3 {
                for y in 0..IMAGE_SIZE {
                    for x in 0..IMAGE_SIZE {
                        let sx = if flip { IMAGE_SIZE - 1 - x } else { x };
                        v[(c * IMAGE_SIZE + y) * IMAGE_SIZE + x] =
                            canvas[(c * side + top + y) * side + left + sx];
                    }
                }
            }
            views.push(v);
        }
    }
    views
}

#[test]
fn ten_crops_are_the_corners_and_centre_of_the_padded_image_and_their_mirrors() {
    let mut rng = StdRng::seed_from_u64(8);
    let img: Vec<u8> = (0..PIXELS).map(|_| rng.gen_range(1..=255)).collect();
    for pad in [0, 1, 4, 7, 31, 40] {
        let views = ten_crops(&img, pad).unwrap();
        let want = naive_ten_crops(&img, pad);
        assert_eq!(views.len(), 10);
        for (k, (v, w)) in views.iter().zip(&want).enumerate() {
            assert!(v == w, "pad {pad}, view {k}");
        }
    }
    let views = ten_crops(&img, 4).unwrap();
    assert_eq!(views[4], img, "the centre view is the image");
    // The top-left view moved the image 4 pixels right and down: zeros in the top rows.
    assert_eq!(views[0][0..4 * IMAGE_SIZE], [0u8; 4 * IMAGE_SIZE]);
    assert_eq!(views[0][4 * IMAGE_SIZE + 4], img[0]);
    assert_ne!(views[9], img, "the mirrored centre is not the image");
}

#[test]
fn the_ten_crop_prediction_is_the_mean_of_ten_forward_passes() {
    let dev = Cpu::seed_from_u64(2);
    let model = dev.build_module::<Cifar, f32>();
    // 11 images: more than one pass of the library's batching.
    let set = synthetic::generate(2, 1, 3).train.slice(0..11);
    let norm = Normalization::from_images(&set);
    let probs = ten_crop_probabilities::<Cifar, _>(&model, &set, norm, 4).unwrap();
    assert_eq!(probs.len(), 11);
    let mut right = 0;
    let mut worst: f32 = 0.0;
    let mut hand_loss = 0.0;
    for (i, averaged) in probs.iter().enumerate() {
        let mut values = Vec::new();
        for view in ten_crops(set.image(i), 4).unwrap() {
            let mut out = vec![0f32; PIXELS];
            norm.apply(&view, &mut out);
            values.extend(out);
        }
        let x = dev.tensor_from_vec(values, (Const::<10>, Const::<3>, Const::<32>, Const::<32>));
        let p = model.forward(x).softmax::<Axis<1>>().as_vec();
        let mean: Vec<f32> = (0..10)
            .map(|c| (0..10).map(|v| p[v * 10 + c]).sum::<f32>() / 10.0)
            .collect();
        for c in 0..10 {
            let d = (averaged[c] - mean[c]).abs();
            assert!(
                d < 1e-6,
                "image {i}, class {c}: {} vs {}",
                averaged[c],
                mean[c]
            );
            worst = worst.max(d);
        }
        let best = (0..10).fold(0, |b, c| if mean[c] > mean[b] { c } else { b });
        right += usize::from(best == set.labels[i] as usize);
        hand_loss -= (mean[set.labels[i] as usize] as f64).ln() / 11.0;
    }
    println!("largest difference from the hand-made mean: {worst:.2e}");
    let metrics = evaluate_ten_crop::<Cifar, _>(&model, &set, norm, 4).unwrap();
    assert!((metrics.accuracy - right as f64 / 11.0).abs() < 1e-12);
    assert!(
        (metrics.loss - hand_loss).abs() < 1e-6,
        "ten-crop loss {} against {hand_loss} by hand",
        metrics.loss
    );
    println!("ten-crop loss {} (by hand {hand_loss})", metrics.loss);
    // A pad that leaves the corner views empty is refused, in one line.
    let err = ten_crop_probabilities::<Cifar, _>(&model, &set, norm, 32)
        .unwrap_err()
        .to_string();
    assert!(err.contains("pad of 32") && !err.contains('\n'), "{err}");
}

#[test]
fn a_nan_in_the_network_gives_a_nan_loss_not_a_large_number() {
    let dev = Cpu::seed_from_u64(2);
    let mut model = dev.build_module::<Cifar, f32>();
    // One NaN in the output layer's bias (the last tensor): every logit row holds a NaN, so
    // every probability is NaN. (A NaN earlier on could be cut off by a ReLU.)
    let params = parameters(&model).unwrap();
    let last = params.len() - 1;
    set_parameters(&mut model, |i, _, _| {
        let mut values = params[i].values.clone();
        if i == last {
            values[0] = f32::NAN;
        }
        values
    })
    .unwrap();
    let set = synthetic::generate(2, 1, 3).train.slice(0..3);
    let norm = Normalization::from_images(&set);
    let probs = ten_crop_probabilities::<Cifar, _>(&model, &set, norm, 4).unwrap();
    assert!(probs.iter().flatten().all(|p| p.is_nan()), "{probs:?}");
    let ten = evaluate_ten_crop::<Cifar, _>(&model, &set, norm, 4).unwrap();
    assert!(ten.loss.is_nan(), "ten-crop loss {}", ten.loss);
    let one = evaluate_network::<Cifar>(&model, &set, norm).unwrap();
    assert!(one.loss.is_nan(), "single-view loss {}", one.loss);
}

#[test]
fn a_slice_that_is_not_one_image_is_a_one_line_error() {
    let img = vec![7u8; PIXELS];
    assert_eq!(ten_crops(&img, 4).unwrap().len(), 10);
    for len in [0, PIXELS - 1, PIXELS + 1, 2 * PIXELS] {
        let err = ten_crops(&vec![7u8; len], 4).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{len} values given"))
                && err.contains(&PIXELS.to_string())
                && !err.contains('\n'),
            "{err}"
        );
    }
    // random_crop_flip says the same in its panic, instead of indexing out of bounds.
    let short = vec![7u8; PIXELS - 1];
    let panic =
        std::panic::catch_unwind(|| random_crop_flip(&short, 4, &mut StdRng::seed_from_u64(0)))
            .unwrap_err();
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        text.contains(&format!("{} values given", PIXELS - 1)),
        "{text}"
    );
}

#[test]
fn the_eigen_solver_converges_on_a_matrix_with_a_zero_diagonal() {
    // Eigenvalues 2, 0, -2: a zero diagonal, so only the off-diagonal entries carry its size.
    let zero_diagonal = [[0.0, 2.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]];
    let (values, _) = symmetric_eigen(zero_diagonal);
    for (want, got) in [2.0, 0.0, -2.0].iter().zip(values) {
        assert!((want - got).abs() < 1e-12, "{values:?}");
    }
    let mut rng = StdRng::seed_from_u64(5);
    let [a, b, c, d, e, f] = [(); 6].map(|_| rng.gen_range(-1.0..1.0));
    let random = [[a, b, c], [b, d, e], [c, e, f]];
    for m in [zero_diagonal, random] {
        let (values, vectors) = symmetric_eigen(m);
        assert!(
            values[0] >= values[1] && values[1] >= values[2],
            "{values:?}"
        );
        for (i, (l, v)) in values.iter().zip(&vectors).enumerate() {
            let norm: f64 = v.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-12, "{m:?}: vector {i} {v:?}");
            for r in 0..3 {
                let cv: f64 = (0..3).map(|c| m[r][c] * v[c]).sum();
                assert!((cv - l * v[r]).abs() < 1e-12, "{m:?}: pair {i}, {values:?}");
            }
        }
    }
}

/// Checks the paper's rule on one model's layers, given as (weights, biases) in the model's
/// order: each weight tensor drawn from N(0, 0.01^2), biases 1 in convolutions 2, 4, 5 and
/// the two hidden dense layers, 0 in convolutions 1, 3 and the output layer.
fn check_rule(what: &str, convs: [(Vec<f32>, Vec<f32>); 5], denses: [(Vec<f32>, Vec<f32>); 3]) {
    let conv_bias = [0.0, 1.0, 0.0, 1.0, 1.0];
    for (k, ((w, b), want)) in convs.iter().zip(conv_bias).enumerate() {
        check_normal(&format!("{what} conv {}", k + 1), w);
        assert_eq!(*b, vec![want; b.len()], "{what} conv {}", k + 1);
    }
    for (k, ((w, b), want)) in denses.iter().zip([1.0, 1.0, 0.0]).enumerate() {
        check_normal(&format!("{what} dense {}", k + 1), w);
        assert_eq!(*b, vec![want; b.len()], "{what} dense {}", k + 1);
    }
}

/// Sets every tensor of `model` to a value of its own (`0.5 + index`), so that a tensor the
/// rule leaves alone can be told from one it sets.
fn mark<M: TensorCollection<f32, Cpu>>(model: &mut M) {
    set_parameters(model, |i, _, dims| {
        vec![0.5 + i as f32; dims.iter().product()]
    })
    .unwrap();
}

#[test]
fn the_papers_initialisation_in_the_ablation_variants() {
    let dev = Cpu::seed_from_u64(6);
    // cifar with tanh: the same layers, so the same rule (batch norm left as it is).
    let mut m = dev.build_module::<CifarTanh, f32>();
    mark(&mut m);
    let bn = |m: &<CifarTanh as BuildOnDevice<Cpu, f32>>::Built| {
        [
            m.0 .1.scale.as_vec(),
            m.1 .1.bias.as_vec(),
            m.2 .1.scale.as_vec(),
            m.3 .1.bias.as_vec(),
            m.4 .1.scale.as_vec(),
        ]
    };
    let before = bn(&m);
    initialise(&mut m, Init::Paper, 1).unwrap();
    assert_eq!(bn(&m), before, "cifar-tanh: batch norm");
    let convs = [
        (m.0 .0.weight.as_vec(), m.0 .0.bias.as_vec()),
        (m.1 .0.weight.as_vec(), m.1 .0.bias.as_vec()),
        (m.2 .0.weight.as_vec(), m.2 .0.bias.as_vec()),
        (m.3 .0.weight.as_vec(), m.3 .0.bias.as_vec()),
        (m.4 .0.weight.as_vec(), m.4 .0.bias.as_vec()),
    ];
    let denses = [
        (m.5 .1 .1.weight.as_vec(), m.5 .1 .1.bias.as_vec()),
        (m.5 .2 .1.weight.as_vec(), m.5 .2 .1.bias.as_vec()),
        (m.5 .3.weight.as_vec(), m.5 .3.bias.as_vec()),
    ];
    check_rule("cifar-tanh", convs, denses);
    drop(m);
    // cifar without dropout: the dense layers move up in their blocks.
    let mut m = dev.build_module::<CifarNoDropout, f32>();
    mark(&mut m);
    let bn = |m: &<CifarNoDropout as BuildOnDevice<Cpu, f32>>::Built| {
        [
            m.0 .0 .1.scale.as_vec(),
            m.1 .0 .1.bias.as_vec(),
            m.2 .1.scale.as_vec(),
            m.3 .1.bias.as_vec(),
            m.4 .0 .1.scale.as_vec(),
        ]
    };
    let before = bn(&m);
    initialise(&mut m, Init::Paper, 1).unwrap();
    assert_eq!(bn(&m), before, "cifar-no-dropout: batch norm");
    let convs = [
        (m.0 .0 .0.weight.as_vec(), m.0 .0 .0.bias.as_vec()),
        (m.1 .0 .0.weight.as_vec(), m.1 .0 .0.bias.as_vec()),
        (m.2 .0.weight.as_vec(), m.2 .0.bias.as_vec()),
        (m.3 .0.weight.as_vec(), m.3 .0.bias.as_vec()),
        (m.4 .0 .0.weight.as_vec(), m.4 .0 .0.bias.as_vec()),
    ];
    let denses = [
        (m.5 .1 .0.weight.as_vec(), m.5 .1 .0.bias.as_vec()),
        (m.5 .2 .0.weight.as_vec(), m.5 .2 .0.bias.as_vec()),
        (m.5 .3.weight.as_vec(), m.5 .3.bias.as_vec()),
    ];
    check_rule("cifar-no-dropout", convs, denses);
    drop(m);
    // cifar without normalisation: no batch norm, the last layers in a shared tail.
    let mut m = dev.build_module::<CifarNoNorm, f32>();
    mark(&mut m);
    initialise(&mut m, Init::Paper, 1).unwrap();
    let convs = [
        (m.0 .0.weight.as_vec(), m.0 .0.bias.as_vec()),
        (m.1 .0.weight.as_vec(), m.1 .0.bias.as_vec()),
        (m.2 .0 .0.weight.as_vec(), m.2 .0 .0.bias.as_vec()),
        (m.2 .1 .0.weight.as_vec(), m.2 .1 .0.bias.as_vec()),
        (m.2 .2 .0.weight.as_vec(), m.2 .2 .0.bias.as_vec()),
    ];
    let denses = [
        (m.2 .3 .1 .1.weight.as_vec(), m.2 .3 .1 .1.bias.as_vec()),
        (m.2 .3 .2 .1.weight.as_vec(), m.2 .3 .2 .1.bias.as_vec()),
        (m.2 .3 .3.weight.as_vec(), m.2 .3 .3.bias.as_vec()),
    ];
    check_rule("cifar-no-norm", convs, denses);
}

#[test]
fn the_initial_weights_are_not_drawn_from_the_batches_stream() {
    // Epoch 0's batches of a run with seed 0 are seeded with 0 too: the weights must come
    // from another sequence than a generator seeded with the run's seed.
    for seed in [0, 3] {
        let mut model = Cpu::seed_from_u64(1).build_module::<Cifar, f32>();
        initialise(&mut model, Init::Paper, seed).unwrap();
        let first = model.0 .0 .0.weight.as_vec();
        let normal = rand_distr::Normal::new(0.0f32, 0.01).unwrap();
        let mut plain = StdRng::seed_from_u64(seed);
        let same = first
            .iter()
            .take(64)
            .filter(|&&w| w == rand_distr::Distribution::sample(&normal, &mut plain))
            .count();
        assert!(
            same < 4,
            "seed {seed}: {same} of 64 weights equal the plain stream's"
        );
        check_normal("conv 1", &first);
    }
}

#[test]
fn the_papers_dropout_and_the_inverted_one_agree_in_expectation() {
    let x = [1.5, -2.0, 0.25, 3.0];
    let n = x.len();
    for p in [0.5, 0.3] {
        let (mut paper, mut inverted) = (vec![0.0; n], vec![0.0; n]);
        let mut total = 0.0;
        for bits in 0..1u32 << n {
            let keep: Vec<bool> = (0..n).map(|i| bits >> i & 1 == 1).collect();
            let prob: f64 = keep.iter().map(|&k| if k { 1.0 - p } else { p }).product();
            total += prob;
            let a = dropout_paper_forward(&x, &keep, p, true);
            let b = dropout_forward(&x, &keep, p);
            for i in 0..n {
                // One mask: kept values unscaled (paper) or scaled by 1 / (1 - p).
                let (wa, wb) = if keep[i] {
                    (x[i], x[i] / (1.0 - p))
                } else {
                    (0.0, 0.0)
                };
                assert!((a[i] - wa).abs() < 1e-15 && (b[i] - wb).abs() < 1e-15);
                paper[i] += prob * a[i];
                inverted[i] += prob * b[i];
            }
        }
        assert!((total - 1.0).abs() < 1e-12, "the masks' probabilities");
        let paper_test = dropout_paper_forward(&x, &[true; 4], p, false);
        for i in 0..n {
            assert!(
                (paper[i] - paper_test[i]).abs() < 1e-12,
                "p {p}: paper, {i}"
            );
            // The inverted dropout is the identity at test time.
            assert!((inverted[i] - x[i]).abs() < 1e-12, "p {p}: inverted, {i}");
            assert!(
                (paper[i] - (1.0 - p) * inverted[i]).abs() < 1e-12,
                "p {p}: the constant factor, {i}"
            );
        }
        println!("p {p}: paper's expectation {paper:?}, inverted's {inverted:?}");
    }
}
