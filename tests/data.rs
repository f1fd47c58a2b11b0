//! The data pipeline: the binary format (with known pixels and a fuzzed parser), splits,
//! transforms, batches and the synthetic set through the real loader.

use crate::reference::{empty_dir, tmp_dir};
use alexnet_lab::data::*;
use dfdx::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::path::Path;

/// One record whose red, green and blue planes each have one marked pixel.
fn marked_record(label: u8) -> Vec<u8> {
    let mut rec = vec![0u8; RECORD_BYTES];
    rec[0] = label;
    rec[1 + 3 * 32 + 7] = 200; // red, row 3, column 7
    rec[1 + 1024 + 31] = 77; // green, row 0, column 31
    rec[1 + 2048 + 31 * 32] = 9; // blue, row 31, column 0
    rec
}

#[test]
fn known_pixels_land_where_they_must() {
    let images = parse_records(&marked_record(4), Path::new("x.bin")).unwrap();
    assert_eq!(images.labels, [4]);
    let hwc = images.to_hwc(); // (N, 32, 32, 3)
    assert_eq!(
        (hwc[[0, 3, 7, 0]], hwc[[0, 0, 31, 1]], hwc[[0, 31, 0, 2]]),
        (200, 77, 9)
    );
    assert_eq!(hwc.iter().map(|&v| v as u32).sum::<u32>(), 200 + 77 + 9);
    let chw = images.to_chw_f32(); // (N, 3, 32, 32)
    assert_eq!(chw[[0, 0, 3, 7]], 200.0 / 255.0);
    assert_eq!(chw[[0, 1, 0, 31]], 77.0 / 255.0);
    assert_eq!(chw[[0, 2, 31, 0]], 9.0 / 255.0);
    assert_eq!(images.image_hwc(0)[[3, 7, 0]], 200);
}

#[test]
fn malformed_files_are_rejected_with_the_file_and_record_named() {
    let path = Path::new("data_batch_3.bin");
    let mut two = marked_record(1);
    two.extend(marked_record(2));
    let err = parse_records(&two[..two.len() - 5], path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data_batch_3.bin") && err.contains("whole number of 3073-byte records"),
        "{err}"
    );
    two[RECORD_BYTES] = 10; // the second record's label
    let err = parse_records(&two, path).unwrap_err().to_string();
    assert!(err.contains("record 1 has label 10"), "{err}");
    let err = read_batch_file(Path::new("/nonexistent/test_batch.bin")).unwrap_err();
    // The operating system's message is in the message once, and not repeated as a cause
    // (a report of the error chain would print it twice).
    assert!(std::error::Error::source(&err).is_none());
    let err = err.to_string();
    assert!(err.contains("/nonexistent/test_batch.bin"), "{err}");
    let os = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
    assert_eq!(err.matches("os error 2").count(), 1, "{err} ({os})");
}

/// Property: for any bytes, parsing returns Ok exactly when the length is a whole number
/// of records and every label is 0..=9, encoding is its inverse, and nothing panics.
fn parser_property(cases: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bytes = Vec::new();
    for _ in 0..cases {
        let records = rng.gen_range(0..4);
        let extra = if rng.gen_bool(0.5) {
            0
        } else {
            rng.gen_range(1..RECORD_BYTES)
        };
        bytes.resize(records * RECORD_BYTES + extra, 0);
        rng.fill(&mut bytes[..]);
        if rng.gen_bool(0.5) {
            for r in 0..records {
                bytes[r * RECORD_BYTES] %= 10;
            }
        }
        let valid = extra == 0 && (0..records).all(|r| bytes[r * RECORD_BYTES] < 10);
        let parsed = parse_records(&bytes, Path::new("fuzz.bin"));
        assert_eq!(parsed.is_ok(), valid);
        if let Ok(images) = parsed {
            assert_eq!(images.len(), records);
            assert_eq!(
                encode_records(&images),
                bytes,
                "encode is the inverse of parse"
            );
        }
    }
}

#[test]
fn parser_never_panics_on_random_input() {
    parser_property(3_000, 99);
}

/// The same property on a million inputs (about a minute in release):
/// `cargo test --release --test all -- --ignored data::`.
#[test]
#[ignore = "a million inputs: run in release with --ignored"]
fn parser_never_panics_on_a_million_random_inputs() {
    parser_property(1_000_000, 100);
}
#[test]
fn synthetic_set_is_seeded_balanced_and_round_trips_through_the_loader() {
    let a = synthetic::generate(6, 2, 42);
    let b = synthetic::generate(6, 2, 42);
    let c = synthetic::generate(6, 2, 43);
    assert_eq!(a.train, b.train);
    assert_ne!(a.train.pixels, c.train.pixels);
    assert_eq!(a.train.class_counts(), [6; 10]);
    assert_eq!(a.test.class_counts(), [2; 10]);
    let dir = empty_dir("data-synth");
    let folder = a.write_cifar10(&dir).unwrap();
    assert!(folder.ends_with(FOLDER));
    for dir in [&dir, &folder] {
        let loaded = Dataset::load_cifar10(dir).unwrap();
        assert_eq!(loaded.train, a.train);
        assert_eq!(loaded.test, a.test);
        assert_eq!(loaded.classes, synthetic::CLASS_NAMES);
    }
    // A damaged file in an otherwise whole set is reported, not skipped.
    let victim = folder.join(TRAIN_FILES[2]);
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() - 1]).unwrap();
    let err = Dataset::load_cifar10(&dir).unwrap_err().to_string();
    assert!(err.contains("data_batch_3.bin"), "{err}");
    std::fs::remove_file(folder.join(META_FILE)).unwrap();
    std::fs::write(&victim, &bytes).unwrap();
    let err = Dataset::load_cifar10(&dir).unwrap_err().to_string();
    assert!(err.contains(META_FILE), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    let err = Dataset::load_cifar10(&dir).unwrap_err().to_string();
    assert!(
        err.contains("download it") && err.contains("synthetic"),
        "{err}"
    );
}

#[test]
fn validation_is_the_last_training_images() {
    let data = synthetic::generate(10, 1, 5);
    let last = data.train.image(99).to_vec();
    let splits = data.clone().split(30).unwrap();
    assert_eq!((splits.train.len(), splits.val.len()), (70, 30));
    assert_eq!(splits.val.image(29), &last[..]);
    assert_eq!(splits.train.image(0), data.train.image(0));
    let err = data.split(100).unwrap_err().to_string();
    assert!(
        err.contains("validation size") && err.contains("leaves no training images"),
        "{err}"
    );
}

#[test]
fn normalization_uses_training_statistics() {
    let data = synthetic::generate(5, 1, 8);
    let norm = Normalization::from_images(&data.train);
    // Reference: a direct mean and std of the red channel.
    let red: Vec<f64> = (0..data.train.len())
        .flat_map(|i| {
            data.train.image(i)[..1024]
                .iter()
                .map(|&p| p as f64 / 255.0)
                .collect::<Vec<_>>()
        })
        .collect();
    let mean = red.iter().sum::<f64>() / red.len() as f64;
    let std = (red.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / red.len() as f64).sqrt();
    assert!((norm.mean[0] as f64 - mean).abs() < 1e-5 && (norm.std[0] as f64 - std).abs() < 1e-5);
    let mut out = vec![0f32; PIXELS];
    norm.apply(data.train.image(0), &mut out);
    let want = (data.train.image(0)[0] as f32 / 255.0 - norm.mean[0]) / norm.std[0];
    assert!((out[0] - want).abs() < 1e-6);
}

#[test]
fn crop_and_flip_move_pixels_as_they_should() {
    let images = parse_records(&marked_record(0), Path::new("x.bin")).unwrap();
    let img = images.image(0);
    let mut rng = StdRng::seed_from_u64(1);
    let (mut flipped, mut shifted) = (0, 0);
    for _ in 0..50 {
        let out = random_crop_flip(img, 0, &mut rng); // no padding: identity or mirror
        if out == img {
            shifted += 1;
        } else {
            assert_eq!(
                out[3 * 32 + (31 - 7)],
                200,
                "red pixel mirrored to column 24"
            );
            flipped += 1;
        }
    }
    assert!(
        flipped > 10 && shifted > 10,
        "a fair coin: {flipped} flips of 50"
    );
    let out = random_crop_flip(img, 4, &mut StdRng::seed_from_u64(3));
    assert_eq!(
        out,
        random_crop_flip(img, 4, &mut StdRng::seed_from_u64(3)),
        "seeded"
    );
    let marks = out.iter().filter(|&&v| v == 200).count();
    assert!(
        marks <= 1,
        "a crop moves the pixel or drops it, never copies it"
    );
}

#[test]
fn bilinear_resize_keeps_constants_and_corners() {
    let constant = vec![0.25f32; 3 * 32 * 32];
    assert!(resize_bilinear(&constant, 3, 32, 227)
        .iter()
        .all(|&v| (v - 0.25).abs() < 1e-6));
    let ramp: Vec<f32> = (0..32 * 32).map(|i| (i % 32) as f32).collect();
    let big = resize_bilinear(&ramp, 1, 32, 227);
    assert_eq!(big[0], 0.0);
    assert_eq!(big[226], 31.0);
    assert!(
        big[..227].windows(2).all(|w| w[1] >= w[0]),
        "a ramp stays monotone"
    );
}

#[test]
fn batches_follow_the_policy_and_see_every_image_once() {
    let data = synthetic::generate(7, 1, 2); // 70 training images
    let norm = Normalization::from_images(&data.train);
    let dev = Cpu::default();
    let train: Vec<_> = Batches::<32, _>::new(
        &data.train,
        norm,
        BatchConfig::train(16, true, 9),
        dev.clone(),
    )
    .collect();
    assert_eq!(
        train.len(),
        4,
        "70 / 16: four full batches, the partial one dropped"
    );
    assert!(train
        .iter()
        .all(|b| b.images.shape().0 == 16 && b.labels.len() == 16));
    let again: Vec<_> = Batches::<32, _>::new(
        &data.train,
        norm,
        BatchConfig::train(16, true, 9),
        dev.clone(),
    )
    .collect();
    assert_eq!(train[0].labels, again[0].labels, "same seed, same order");
    assert_eq!(
        train[0].images.as_vec(),
        again[0].images.as_vec(),
        "same seed, same augmentation"
    );
    let eval: Vec<_> =
        Batches::<32, _>::new(&data.train, norm, BatchConfig::eval(16), dev.clone()).collect();
    assert_eq!(
        eval.iter().map(|b| b.labels.len()).collect::<Vec<_>>(),
        [16, 16, 16, 16, 6]
    );
    let seen: Vec<usize> = eval.iter().flat_map(|b| b.labels.clone()).collect();
    assert_eq!(
        seen,
        data.train
            .labels
            .iter()
            .map(|&l| l as usize)
            .collect::<Vec<_>>()
    );
    // The first evaluation image, normalised, is the first 3072 floats.
    let mut want = vec![0f32; PIXELS];
    norm.apply(data.train.image(0), &mut want);
    assert_eq!(&eval[0].images.as_vec()[..PIXELS], &want[..]);
    // Resized for the 227x227 models.
    let big = Batches::<227, _>::new(&data.train, norm, BatchConfig::eval(4), dev.clone())
        .next()
        .unwrap();
    assert_eq!(big.images.shape().concrete(), [4, 3, 227, 227]);
    let targets = one_hot::<10, _>(&[3, 0], &dev).unwrap();
    assert_eq!(targets.as_vec()[3], 1.0);
    assert_eq!(targets.as_vec()[10], 1.0);
    assert_eq!(targets.as_vec().iter().sum::<f32>(), 2.0);
}

#[test]
fn bad_labels_are_refused_where_they_enter() {
    // A label at the class count would mark the next row's first class.
    let err = one_hot::<10, _>(&[3, 10], &Cpu::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("label 10") && err.contains("10 classes"),
        "{err}"
    );
    assert!(one_hot_rows(&[9], 10).is_ok());
    let mut images = Images::default();
    let err = images.push(&[0; PIXELS], 10).unwrap_err().to_string();
    assert!(err.contains("label 10"), "{err}");
    let err = images.push(&[0; 12], 1).unwrap_err().to_string();
    assert!(err.contains("got 12 bytes"), "{err}");
    assert!(images.is_empty(), "nothing was added");
    images.push(&[7; PIXELS], 9).unwrap();
    assert_eq!((images.len(), images.labels[0]), (1, 9));
}

#[test]
fn a_named_data_folder_without_cifar10_is_an_error_not_the_synthetic_set() {
    for (name, make) in [("empty", true), ("absent", false)] {
        let dir = tmp_dir(&format!("data-named-{name}"));
        if make {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let err = load_dataset(None, Some(&dir), 3, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&dir.display().to_string())
                && err.contains("holds neither CIFAR-10")
                && err.contains("nor Fashion-MNIST"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    // A named folder that holds it loads it.
    let dir = empty_dir("data-named-ok");
    synthetic::generate(2, 1, 3).write_cifar10(&dir).unwrap();
    let (set, note) = load_dataset(None, Some(&dir), 3, 0).unwrap();
    // Written by the synthetic set, the folder says so by its class names; with CIFAR-10's
    // names in the same layout, it is CIFAR-10.
    assert_eq!(set.kind(), DatasetKind::Synthetic);
    let mut renamed = synthetic::generate(2, 1, 3);
    renamed.classes = DatasetKind::Cifar10.classes().map(String::from).to_vec();
    renamed.write_cifar10(&dir).unwrap();
    let (set, _) = load_dataset(None, Some(&dir), 3, 0).unwrap();
    assert_eq!(set.kind(), DatasetKind::Cifar10);
    assert!(note.is_none());
    assert_eq!(set.train.len(), 20);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_or_synthetic_says_which() {
    let dir = empty_dir("data-fallback");
    let data = load_or_synthetic(&dir, 3, 11).unwrap();
    assert_eq!(data.source, Source::Synthetic { seed: 11 });
    assert_eq!(data.train.len(), 30);
    synthetic::generate(3, 1, 4).write_cifar10(&dir).unwrap();
    assert_eq!(
        load_or_synthetic(&dir, 3, 11).unwrap().source,
        Source::Files {
            kind: DatasetKind::Synthetic,
            folder: dir.join(FOLDER)
        }
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- pictures a learner brings: PNG and JPEG (`read_image`) ----

/// A fixture of tests/fixtures (made by make_picture_fixtures.py).
#[cfg(feature = "jpeg")]
fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The largest difference between two 32x32 CHW pictures, and where.
#[cfg(feature = "jpeg")]
fn largest_difference(a: &[u8], b: &[u8]) -> (u8, usize) {
    assert_eq!((a.len(), b.len()), (3072, 3072));
    a.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| (x.abs_diff(*y), i))
        .max()
        .unwrap()
}

#[cfg(feature = "jpeg")]
#[test]
fn a_jpeg_reads_as_the_same_picture_saved_as_png() {
    // Six flat blocks, 16x16 each, on a 48x32 picture: red, green, blue; white, grey, black.
    let png = read_image(&fixture("blocks.png")).unwrap();
    // Known pixels of the lossless file: the centre of each block after the resize to 32x32
    // (a block spans 32/3 columns and 16 rows there).
    let colours = [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 255],
        [128, 128, 128],
        [0, 0, 0],
    ];
    for (k, colour) in colours.iter().enumerate() {
        let (x, y) = (5 + 11 * (k % 3), 8 + 16 * (k / 3));
        let got: Vec<u8> = (0..3).map(|c| png[c * 1024 + y * 32 + x]).collect();
        assert_eq!(got, colour, "block {k} of the PNG at ({x}, {y})");
    }
    // JPEG is lossy: at quality 95 without chroma subsampling a flat block decodes within a
    // few levels of its colour, most at the edges between blocks.
    for name in ["blocks.jpg", "blocks-progressive.jpg"] {
        let jpeg = read_image(&fixture(name)).unwrap();
        let (d, at) = largest_difference(&jpeg, &png);
        assert!(d <= 12, "{name} differs from the PNG by {d} at value {at}");
    }
    // A grey JPEG: every channel the same, close to the PNG's luma (ITU-R BT.601).
    let grey = read_image(&fixture("blocks-grey.jpg")).unwrap();
    let luma: Vec<u8> = (0..1024)
        .map(|p| {
            let (r, g, b) = (png[p] as f32, png[1024 + p] as f32, png[2048 + p] as f32);
            (0.299 * r + 0.587 * g + 0.114 * b).round() as u8
        })
        .collect();
    let luma3: Vec<u8> = luma.iter().chain(&luma).chain(&luma).copied().collect();
    let (d, at) = largest_difference(&grey, &luma3);
    assert!(
        d <= 12,
        "the grey JPEG differs from the PNG's luma by {d} at value {at}"
    );
}

#[cfg(feature = "jpeg")]
#[test]
fn a_damaged_or_unknown_picture_is_refused_in_one_line() {
    let dir = empty_dir("read-image");
    let jpeg = std::fs::read(fixture("blocks.jpg")).unwrap();
    let cases: [(&str, Vec<u8>); 5] = [
        ("empty.jpg", Vec::new()),
        ("gif.jpg", b"GIF89a\x01\x00\x01\x00".to_vec()),
        ("header-only.jpg", jpeg[..3].to_vec()),
        ("half.jpg", jpeg[..jpeg.len() / 2].to_vec()),
        ("png-named.png", jpeg[..200].to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        match read_image(&path) {
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains(name) && !message.contains('\n'),
                    "{name}: the error names the file, in one line: {message}"
                );
            }
            // A decoder may fill in what a cut file lacks; it must still give a whole picture.
            Ok(image) => assert!(
                name == "half.jpg" && image.len() == 3072,
                "{name} was read as a picture"
            ),
        }
    }
    assert!(read_image(&dir.join("missing.jpg")).is_err());
}
