//! Pictures: figures drawn with plotters into memory, shown inline in a notebook (evcxr)
//! and saved as PNG. Text uses an embedded font, so nothing is needed from the system.
//!
//! Every figure is a [`Figure`]; several in one cell combine with [`Figure::stack`].

mod charts;
mod figure;
mod grids;
mod images;
mod inside;
mod maps;
mod pca;

pub use charts::{
    bars, confusion, confusion_layout, curves, function_plot, histogram, lines, per_class_accuracy,
    scatter, top_k, CLASS_COLOURS,
};
pub use figure::{font, viridis, Area, Figure, FONT_FAMILY, PALETTE};
pub use grids::{
    augmentations, mistakes, nearest, nearest_in, neighbours, neighbours_from, tile_origin,
    TILE_SCALE,
};
pub use images::{grid_tile_origin, image_channels, image_grid, GRID_SCALE};
pub use inside::{
    image_and_maps, input_origin, occlusion, occlusion_map, patch_origin, patches, receptive_range,
    saliency, saliency_map, top_patches, Patch, INPUT_SCALE, PATCH_SCALE,
};
pub use maps::{feature_maps, feature_maps_each_scaled, filters, map_scale, map_tile_origin};
pub use pca::{pca_2d, Pca, PCA_MAX_ITERATIONS};
