//! A procedurally drawn stand-in for CIFAR-10: ten classes of 32x32 colour images (shapes,
//! stripes, a checkerboard, blobs) with random colours, positions, sizes, slight rotations
//! and noise, so that colour alone says nothing and a network must learn shape and texture.
//! The same seed gives the same bytes. It is what the tests, CI and an offline machine use.

use super::dataset::{Dataset, DatasetKind, Images, Source, IMAGE_SIZE, NUM_CLASSES, PIXELS};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// The classes, in label order.
pub const CLASS_NAMES: [&str; NUM_CLASSES] = DatasetKind::Synthetic.classes();

/// The default number of training images per class (`alexnet data synth`).
pub const DEFAULT_PER_CLASS: usize = 500;

/// Draws `per_class_train` training and `per_class_test` test images of every class, classes
/// interleaved (image `i` is class `i % 10`) so that any contiguous split stays balanced.
pub fn generate(per_class_train: usize, per_class_test: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw_set = |n: usize| {
        let mut images = Images::default();
        for i in 0..n * NUM_CLASSES {
            let label = (i % NUM_CLASSES) as u8;
            // A drawn image is 3072 bytes and its label a class: no check needed.
            images.pixels.extend(draw(label, &mut rng));
            images.labels.push(label);
        }
        images
    };
    let train = draw_set(per_class_train);
    let test = draw_set(per_class_test);
    let classes = CLASS_NAMES.iter().map(|s| s.to_string()).collect();
    Dataset {
        train,
        test,
        classes,
        source: Source::Synthetic { seed },
    }
}

/// One image of class `label`, CHW bytes.
pub fn draw(label: u8, rng: &mut impl Rng) -> Vec<u8> {
    let bg: [f32; 3] = std::array::from_fn(|_| rng.gen_range(0.0..255.0));
    let fg = loop {
        let c: [f32; 3] = std::array::from_fn(|_| rng.gen_range(0.0..255.0));
        if c.iter().zip(&bg).map(|(a, b)| (a - b).abs()).sum::<f32>() > 180.0 {
            break c;
        }
    };
    let shape = Shape::random(label, rng);
    let ramp: [f32; 2] = [rng.gen_range(-1.5..1.5), rng.gen_range(-1.5..1.5)]; // background light gradient
    let noise = rng.gen_range(4.0..20.0f32);
    let mut out = vec![0u8; PIXELS];
    let plane = IMAGE_SIZE * IMAGE_SIZE;
    for y in 0..IMAGE_SIZE {
        for x in 0..IMAGE_SIZE {
            let inside = shape.contains(x as f32, y as f32);
            let light = ramp[0] * (x as f32 - 16.0) + ramp[1] * (y as f32 - 16.0);
            for c in 0..3 {
                let base = if inside { fg[c] } else { bg[c] + light };
                // Two uniform draws: a cheap, bounded stand-in for Gaussian noise.
                let n = (rng.gen::<f32>() + rng.gen::<f32>() - 1.0) * noise;
                out[c * plane + y * IMAGE_SIZE + x] = (base + n).clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// The geometry of one drawing: a centre, a size, an angle, and per-class extras.
struct Shape {
    label: u8,
    cx: f32,
    cy: f32,
    r: f32,
    cos: f32,
    sin: f32,
    period: f32,
    phase: f32,
    second: (f32, f32),
}

impl Shape {
    fn random(label: u8, rng: &mut impl Rng) -> Shape {
        let angle = rng.gen_range(-0.35..0.35f32);
        let r = rng.gen_range(6.0..11.0f32);
        let (cx, cy) = (rng.gen_range(11.0..21.0), rng.gen_range(11.0..21.0));
        let second = loop {
            let p = (rng.gen_range(5.0..27.0f32), rng.gen_range(5.0..27.0f32));
            if (p.0 - cx).hypot(p.1 - cy) > r + 2.0 {
                break p;
            }
        };
        Shape {
            label,
            cx,
            cy,
            r,
            cos: angle.cos(),
            sin: angle.sin(),
            period: rng.gen_range(4.0..9.0),
            phase: rng.gen_range(0.0..9.0),
            second,
        }
    }

    fn contains(&self, x: f32, y: f32) -> bool {
        let (dx, dy) = (x - self.cx, y - self.cy);
        // Coordinates in the shape's own (slightly rotated) frame.
        let (u, v) = (
            dx * self.cos + dy * self.sin,
            -dx * self.sin + dy * self.cos,
        );
        let stripe = |t: f32| (t + self.phase).rem_euclid(self.period) < self.period / 2.0;
        match self.label {
            0 => dx.hypot(dy) <= self.r,
            1 => u.abs().max(v.abs()) <= self.r * 0.8,
            2 => v <= self.r * 0.6 && v >= -self.r + 1.6 * u.abs(), // apex up, base below
            3 => (self.r * 0.55..=self.r).contains(&dx.hypot(dy)),
            4 => {
                let w = (self.r / 3.5).max(1.5);
                (u.abs() <= w && v.abs() <= self.r) || (v.abs() <= w && u.abs() <= self.r)
            }
            5 => stripe(y),
            6 => stripe(x),
            7 => stripe((x + y) / std::f32::consts::SQRT_2),
            8 => {
                let cell = (self.period / 1.5).max(3.0);
                (((x + self.phase) / cell).floor() + ((y + self.phase) / cell).floor()) as i32 % 2
                    == 0
            }
            _ => {
                let small = self.r * 0.5;
                dx.hypot(dy) <= small || (x - self.second.0).hypot(y - self.second.1) <= small
            }
        }
    }
}
