//! Scoring logits on the host: the class each row picks, and the mean cross-entropy with
//! the number right. A training step ([`super::step`]) prints these for its batch and
//! evaluation ([`super::metrics`]) sums them over a set.

/// The index of the largest logit of each row.
pub fn argmax_rows(logits: &[f32], classes: usize) -> Vec<usize> {
    logits
        .chunks_exact(classes)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
        })
        .collect()
}

/// Mean cross-entropy of softmax(logits) against the labels, and the number right.
pub fn loss_and_correct(logits: &[f32], labels: &[usize], classes: usize) -> (f64, usize) {
    let mut loss = 0.0;
    for (row, &l) in logits.chunks_exact(classes).zip(labels) {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let lse = max
            + row
                .iter()
                .map(|&v| (v as f64 - max).exp())
                .sum::<f64>()
                .ln();
        loss += lse - row[l] as f64;
    }
    let correct = argmax_rows(logits, classes)
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count();
    (loss / labels.len().max(1) as f64, correct)
}
