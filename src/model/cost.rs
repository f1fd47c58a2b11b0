//! The arithmetic of a cost table: how far an output sees (its receptive field), and
//! memory in readable units.

use super::LayerRow;

/// Where a layer stands in the network: the receptive field of its outputs and the
/// distance, in input pixels, between neighbouring outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub receptive_field: Option<usize>,
    pub jump: usize,
}

impl Geometry {
    /// After `row` (the image itself, one pixel seeing one pixel, when there is none).
    pub fn after(row: Option<&LayerRow>) -> Geometry {
        match row {
            Some(r) => Geometry {
                receptive_field: r.receptive_field,
                jump: r.jump,
            },
            None => Geometry {
                receptive_field: Some(1),
                jump: 1,
            },
        }
    }

    /// Through a layer: a `(kernel, stride)` window sees `kernel` outputs of the layer
    /// before, `jump` input pixels apart, so it widens the field by `(kernel - 1) * jump`
    /// and multiplies the jump by the stride. A layer whose output is no longer a map
    /// (`spatial` false: flatten, dense) sees the whole image.
    pub fn through(self, window: Option<(usize, usize)>, spatial: bool) -> Geometry {
        match (self.receptive_field, window) {
            _ if !spatial => Geometry {
                receptive_field: None,
                jump: self.jump,
            },
            (Some(rf), Some((k, s))) => Geometry {
                receptive_field: Some(rf + (k.max(1) - 1) * self.jump),
                jump: self.jump * s,
            },
            _ => self,
        }
    }
}

/// Bytes as `512 B`, `1.2 KiB`, `34.5 MiB`, `1.02 GiB`.
pub(crate) fn bytes(n: usize) -> String {
    let n = n as f64;
    const KIB: f64 = 1024.0;
    if n < KIB {
        format!("{n} B")
    } else if n < KIB * KIB {
        format!("{:.1} KiB", n / KIB)
    } else if n < KIB * KIB * KIB {
        format!("{:.1} MiB", n / (KIB * KIB))
    } else {
        format!("{:.2} GiB", n / (KIB * KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(4 * 290_400), "1.1 MiB");
        assert_eq!(bytes(3 << 30), "3.00 GiB");
    }

    #[test]
    fn the_field_grows_by_kernel_minus_one_jumps() {
        let g = Geometry::after(None).through(Some((11, 4)), true);
        assert_eq!((g.receptive_field, g.jump), (Some(11), 4));
        let g = g.through(Some((3, 2)), true); // AlexNet's pool: 11 + 2 * 4
        assert_eq!((g.receptive_field, g.jump), (Some(19), 8));
        assert_eq!(
            g.through(None, true),
            g,
            "ReLU and batch norm leave it alone"
        );
        assert_eq!(g.through(None, false).receptive_field, None);
    }

    use crate::model::{summary, ModelName};

    #[test]
    fn paper_numbers_by_hand() {
        let t = summary(ModelName::Paper);
        let conv1 = &t.rows[0];
        // 96 maps of 55 x 55, (227 - 11) / 4 + 1 = 55.
        assert_eq!(conv1.outputs(), 290_400);
        assert_eq!(conv1.params, 96 * 3 * 11 * 11 + 96);
        assert_eq!(conv1.params, 34_944);
        assert_eq!(conv1.macs, 290_400 * 3 * 11 * 11);
        assert_eq!(conv1.activation_bytes(64), 290_400 * 4 * 64);
        // Conv 2 in two groups: each filter sees 48 of the 96 maps.
        assert_eq!(t.rows[4].macs, 256 * 27 * 27 * 48 * 25);
        // Receptive fields: 11; pool 11 + 2*4 = 19; conv2 19 + 4*8 = 51; pool 51 + 2*8 = 67;
        // then three 3x3 convs at jump 16 (+32 each) and the last pool (+2*16).
        let fields: Vec<_> = t.rows.iter().map(|r| r.receptive_field).collect();
        let want = [
            11, 11, 11, 19, 51, 51, 51, 67, 99, 99, 131, 131, 163, 163, 195,
        ];
        assert_eq!(&fields[..15], &want.map(Some)[..]);
        assert!(
            fields[15..].iter().all(|f| f.is_none()),
            "dense layers see everything"
        );
        // The dense layers: 9216 * 4096 + 4096 * 4096 + 4096 * 1000 multiply-adds.
        assert_eq!(
            t.total_macs() - t.conv_macs(),
            9216 * 4096 + 4096 * 4096 + 4096 * 1000
        );
    }

    #[test]
    fn cifar_convolutions_take_167_million_multiply_adds() {
        let t = summary(ModelName::Cifar);
        let by_hand = 64 * 32 * 32 * 3 * 9
            + 192 * 16 * 16 * 64 * 9
            + 384 * 8 * 8 * 192 * 9
            + 256 * 8 * 8 * 384 * 9
            + 256 * 8 * 8 * 256 * 9;
        assert_eq!(by_hand, 166_920_192);
        assert_eq!(t.conv_macs(), by_hand);
        assert_eq!(
            t.total_macs(),
            by_hand + 4096 * 1024 + 1024 * 1024 + 1024 * 10
        );
        // 3x3 convs and 2x2 pools: 3, 4 (pool), 8, 10 (pool), 18, 26, 34, 38 (pool).
        let convs_and_pools: Vec<_> = t
            .rows
            .iter()
            .filter(|r| r.layer.starts_with("Conv2D") || r.layer.starts_with("MaxPool"))
            .map(|r| r.receptive_field.unwrap())
            .collect();
        assert_eq!(convs_and_pools, [3, 4, 8, 10, 18, 26, 34, 38]);
        let text = t.to_string();
        assert!(text.contains("166,920,192 in convolutions"), "{text}");
        assert!(text.ends_with("total params: 7509066 (7.51 million)"));
        assert!(t.to_html().contains("<th>receptive field</th>"));
    }

    #[test]
    fn article_memory_goes_to_early_activations_and_late_parameters() {
        let t = summary(ModelName::Article);
        // The convolutional part against the classifier (from Flatten on).
        let flatten = t.rows.iter().position(|r| r.layer == "Flatten").unwrap();
        let (early, late) = t.rows.split_at(flatten);
        let act = |rows: &[LayerRow]| rows.iter().map(|r| r.activation_bytes(1)).sum::<usize>();
        let params = |rows: &[LayerRow]| rows.iter().map(|r| r.params).sum::<usize>();
        assert!(act(early) > 10 * act(late));
        assert!(params(late) > 10 * params(early));
        assert_eq!(t.param_bytes(), 4 * 58_325_066);
    }
}
