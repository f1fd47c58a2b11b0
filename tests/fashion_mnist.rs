//! Fashion-MNIST's IDX files: bytes written by hand against the parser, known pixels through
//! the loader, every kind of bad file refused in one line, and the choice of the best data
//! set in a folder.

use crate::reference::empty_dir;
use alexnet_lab::data::fashion_mnist::{self, GreySplit, GREY_PIXELS};
use alexnet_lab::data::*;
use std::io::Write;
use std::path::Path;

/// `n` photos, photo `i` of class `i % 10` with the value `100 + i` at row `i % 28`, column 27.
fn split(n: usize) -> GreySplit {
    let mut s = GreySplit::default();
    for i in 0..n {
        let mut photo = [0u8; GREY_PIXELS];
        photo[(i % 28) * 28 + 27] = 100 + i as u8;
        s.grey.extend_from_slice(&photo);
        s.labels.push((i % 10) as u8);
    }
    s
}

fn gz(path: &Path, bytes: &[u8]) {
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    e.write_all(bytes).unwrap();
    e.finish().unwrap();
}

#[test]
fn idx_bytes_written_by_hand_parse_as_the_format_says() {
    // A labels file of three labels: 00 00 08 01, then 3 as a big-endian u32, then 7 2 9.
    let labels = [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 9];
    assert_eq!(
        fashion_mnist::parse_labels(&labels, Path::new("l")).unwrap(),
        [7, 2, 9]
    );
    assert_eq!(fashion_mnist::encode_labels(&[7, 2, 9]), labels);
    // An images file of one photo: 00 00 08 03, 1, 28, 28, then 784 bytes.
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend((0..GREY_PIXELS).map(|i| (i % 251) as u8));
    let photos = fashion_mnist::parse_images(&images, Path::new("i")).unwrap();
    assert_eq!((photos.len(), photos[783]), (784, (783 % 251) as u8));
    assert_eq!(fashion_mnist::encode_images(photos), images);
}

#[test]
fn known_pixels_land_padded_on_all_three_planes() {
    let dir = empty_dir("fm-pixels");
    let folder = dir.join(fashion_mnist::FOLDER);
    fashion_mnist::write_files(&folder, &split(30), &split(10)).unwrap();
    for at in [&dir, &folder] {
        let set = Dataset::load_fashion_mnist(at).unwrap();
        assert_eq!((set.train.len(), set.test.len()), (30, 10));
        assert_eq!(set.train.class_counts(), [3; 10]);
        assert_eq!(set.classes, fashion_mnist::CLASS_NAMES);
        assert!(set.is_grey() && set.kind() == DatasetKind::FashionMnist);
        assert_eq!(
            set.source,
            Source::Files {
                kind: DatasetKind::FashionMnist,
                folder: folder.clone()
            }
        );
        // Photo 13: value 113 at row 13, column 27, so row 15, column 29 of the 32x32 image.
        let image = set.train.image(13);
        for c in 0..3 {
            assert_eq!(image[c * 1024 + 15 * 32 + 29], 113);
        }
        assert_eq!(image.iter().map(|&p| p as u32).sum::<u32>(), 3 * 113);
        // The two-pixel border is black everywhere.
        assert!((0..32).all(|k| image[k] == 0 && image[31 * 32 + k] == 0 && image[k * 32] == 0));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a good set into a fresh folder, lets `spoil` damage it, and returns the loader's
/// error.
fn load_error(name: &str, spoil: impl FnOnce(&Path)) -> String {
    let dir = empty_dir(&format!("fm-{name}"));
    fashion_mnist::write_files(&dir, &split(20), &split(10)).unwrap();
    spoil(&dir);
    let err = Dataset::load_fashion_mnist(&dir).unwrap_err().to_string();
    assert!(!err.contains('\n'), "one line: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
    err
}

#[test]
fn every_kind_of_bad_file_is_one_line_naming_it() {
    use fashion_mnist::{TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
    let err = load_error("truncated-gz", |d| {
        let p = d.join(TRAIN_IMAGES);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    });
    assert!(
        err.contains(TRAIN_IMAGES) && err.contains("cannot decompress"),
        "{err}"
    );
    let err = load_error("not-gzip", |d| {
        std::fs::write(d.join(TRAIN_LABELS), b"hello").unwrap()
    });
    assert!(
        err.contains(TRAIN_LABELS) && err.contains("not gzip"),
        "{err}"
    );
    // A labels file where the images should be: the magic number says so.
    let err = load_error("magic", |d| {
        std::fs::copy(d.join(TRAIN_LABELS), d.join(TRAIN_IMAGES)).unwrap();
    });
    assert!(
        err.contains("magic number 00 00 08 01, expected 00 00 08 03"),
        "{err}"
    );
    let err = load_error("label", |d| {
        gz(
            &d.join(TEST_LABELS),
            &fashion_mnist::encode_labels(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 10]),
        )
    });
    assert!(
        err.contains(TEST_LABELS) && err.contains("label 9 is 10"),
        "{err}"
    );
    let err = load_error("count", |d| {
        gz(
            &d.join(TRAIN_LABELS),
            &fashion_mnist::encode_labels(&[1; 19]),
        )
    });
    assert!(
        err.contains("holds 20 photos but") && err.contains("has 19 labels"),
        "{err}"
    );
    let err = load_error("short", |d| {
        let mut bytes = fashion_mnist::encode_images(&split(20).grey);
        bytes.pop();
        gz(&d.join(TRAIN_IMAGES), &bytes);
    });
    assert!(err.contains("(15680 values) but 15679 follow"), "{err}");
    let err = load_error("size", |d| {
        let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 27, 0, 0, 0, 27];
        bytes.extend([0u8; 27 * 27]);
        gz(&d.join(TRAIN_IMAGES), &bytes);
    });
    assert!(err.contains("photos of 27x27, expected 28x28"), "{err}");
    let err = load_error("header", |d| gz(&d.join(TRAIN_IMAGES), &[0, 0, 8]));
    assert!(err.contains("shorter than an IDX header"), "{err}");
    let err = load_error("missing", |d| {
        std::fs::remove_file(d.join(TEST_LABELS)).unwrap()
    });
    assert!(err.contains(TEST_LABELS), "{err}");
    let err = Dataset::load_fashion_mnist(Path::new("/nonexistent-alexnet-lab")).unwrap_err();
    assert!(
        err.to_string()
            .contains("alexnet data download --dataset fashion-mnist"),
        "{err}"
    );
}

#[test]
fn the_best_data_in_a_folder_is_chosen_and_named() {
    let dir = empty_dir("fm-best");
    assert_eq!(present(&dir), []);
    assert_eq!(
        load_or_synthetic(&dir, 2, 5).unwrap().kind(),
        DatasetKind::Synthetic
    );
    fashion_mnist::write_files(&dir.join(fashion_mnist::FOLDER), &split(20), &split(10)).unwrap();
    assert_eq!(present(&dir), [DatasetKind::FashionMnist]);
    assert_eq!(
        load_or_synthetic(&dir, 2, 5).unwrap().kind(),
        DatasetKind::FashionMnist
    );
    synthetic::generate(2, 1, 3).write_cifar10(&dir).unwrap();
    assert_eq!(
        present(&dir),
        [DatasetKind::Cifar10, DatasetKind::FashionMnist]
    );
    // A set in CIFAR-10's layout comes first; its class names say it is the synthetic set.
    let best = load_or_synthetic(&dir, 2, 5).unwrap();
    assert_eq!(best.kind(), DatasetKind::Synthetic);
    assert!(
        best.source
            .to_string()
            .starts_with("the synthetic set from "),
        "{}",
        best.source
    );
    // Asked for by name, a data set is loaded even when a better one is there.
    let (fm, note) = load_dataset(Some(DatasetKind::FashionMnist), Some(&dir), 2, 5).unwrap();
    assert_eq!(
        (fm.kind(), fm.train.len(), note),
        (DatasetKind::FashionMnist, 20, None)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // Asked for by name and absent: an error saying how to get it.
    let err = load_dataset(Some(DatasetKind::FashionMnist), Some(&dir), 2, 5).unwrap_err();
    assert!(err.to_string().contains("--dataset fashion-mnist"), "{err}");
}

#[test]
fn data_set_names_parse_and_classes_say_which_set_a_checkpoint_saw() {
    for kind in DatasetKind::ALL {
        assert_eq!(kind.name().parse::<DatasetKind>().unwrap(), kind);
        let classes: Vec<String> = kind.classes().iter().map(|s| s.to_string()).collect();
        assert_eq!(DatasetKind::from_classes(&classes), Some(kind));
    }
    assert_eq!(DatasetKind::from_classes(&["cat".to_string()]), None);
    let err = "mnist".parse::<DatasetKind>().unwrap_err().to_string();
    assert!(err.contains("cifar10, fashion-mnist, synthetic"), "{err}");
}

#[test]
fn a_slice_per_class_keeps_the_first_of_each_class_in_order() {
    let set = synthetic::generate(6, 3, 1);
    let small = set.clone().per_class(2, 1);
    assert_eq!(small.train.class_counts(), [2; 10]);
    assert_eq!(small.test.class_counts(), [1; 10]);
    // Image 13 of the slice is class 3's second: image 13 of the set (classes interleaved).
    assert_eq!(small.train.image(13), set.train.image(13));
    assert_eq!(small.train.labels[13], 3);
}
