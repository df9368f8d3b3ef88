//! The geometry of the dashboard's SVG charts: bars and a line scaled into a frame, with round
//! axis ticks. Pure arithmetic, so the drawing is tested without a browser and the app needs no
//! chart library.

/// The drawing area of a chart in SVG user units, with room for the axes' labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub bottom: f64,
    pub top: f64,
}

impl Frame {
    pub const STANDARD: Frame = Frame {
        width: 640.0,
        height: 220.0,
        left: 40.0,
        bottom: 36.0,
        top: 12.0,
    };

    fn plot_width(&self) -> f64 {
        self.width - self.left
    }

    fn plot_height(&self) -> f64 {
        self.height - self.bottom - self.top
    }

    /// The y coordinate of `value` on an axis from 0 to `max`.
    pub fn y(&self, value: u64, max: u64) -> f64 {
        let share = value as f64 / max.max(1) as f64;
        self.top + self.plot_height() * (1.0 - share)
    }

    /// The y coordinate of the x axis.
    pub fn baseline(&self) -> f64 {
        self.height - self.bottom
    }
}

/// The smallest 1, 2 or 5 times a power of ten that is at least `max` (and at least 1): the top
/// of an axis that reads well.
pub fn nice_max(max: u64) -> u64 {
    let mut magnitude = 1_u64;
    loop {
        for step in [1, 2, 5] {
            let candidate = step * magnitude;
            if candidate >= max.max(1) {
                return candidate;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// Five ticks from 0 to the axis top; integer values only, so small axes get fewer.
pub fn ticks(top: u64) -> Vec<u64> {
    let mut ticks: Vec<u64> = (0..=4).map(|index| top * index / 4).collect();
    ticks.dedup();
    ticks
}

/// One bar of a bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The middle of the bar, where its label goes.
    pub center: f64,
    pub label: String,
    pub value: u64,
}

/// Bars for `values` side by side across the frame, on an axis from 0 to `top`.
pub fn bars(values: &[(String, u64)], frame: Frame, top: u64) -> Vec<Bar> {
    if values.is_empty() {
        return Vec::new();
    }
    let slot = frame.plot_width() / values.len() as f64;
    let width = (slot * 0.7).max(1.0);
    values
        .iter()
        .enumerate()
        .map(|(index, (label, value))| {
            let x = frame.left + slot * index as f64 + (slot - width) / 2.0;
            let y = frame.y(*value, top);
            Bar {
                x,
                y,
                width,
                height: frame.baseline() - y,
                center: x + width / 2.0,
                label: label.clone(),
                value: *value,
            }
        })
        .collect()
}

/// Which of `n` bars get a label under them so that at most `max_labels` are drawn, evenly
/// spaced: every bar when they fit.
pub fn labelled(index: usize, n: usize, max_labels: usize) -> bool {
    let every = n.div_ceil(max_labels.max(1)).max(1);
    index.is_multiple_of(every)
}

/// One row of a horizontal bar chart: a label on the left, a bar whose length is its share of
/// the largest value.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub y: f64,
    pub width: f64,
    pub label: String,
    pub value: u64,
}

/// The height of one row of a horizontal bar chart, in SVG user units.
pub const ROW_HEIGHT: f64 = 24.0;

/// Horizontal bars for the non-zero `values`, largest first, `bar_space` units long at most.
pub fn rows(values: &[(String, u64)], bar_space: f64) -> Vec<Row> {
    let mut kept: Vec<&(String, u64)> = values.iter().filter(|(_, value)| *value > 0).collect();
    kept.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
    let max = kept.first().map_or(1, |(_, value)| *value).max(1);
    kept.into_iter()
        .enumerate()
        .map(|(index, (label, value))| Row {
            y: ROW_HEIGHT * index as f64,
            width: bar_space * *value as f64 / max as f64,
            label: label.clone(),
            value: *value,
        })
        .collect()
}

/// The `points` attribute of an SVG polyline through `(at_ms, value)` samples, with time from
/// `from_ms` to `to_ms` across the frame.
pub fn polyline(
    samples: &[(u64, u64)],
    frame: Frame,
    from_ms: u64,
    to_ms: u64,
    top: u64,
) -> String {
    let span = to_ms.saturating_sub(from_ms).max(1) as f64;
    samples
        .iter()
        .map(|(at_ms, value)| {
            let share = at_ms.saturating_sub(from_ms) as f64 / span;
            let x = frame.left + frame.plot_width() * share.min(1.0);
            format!("{x:.1},{:.1}", frame.y(*value, top))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(1), 1);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(480), 500);
        assert_eq!(nice_max(501), 1_000);
        assert_eq!(ticks(20), [0, 5, 10, 15, 20]);
        assert_eq!(ticks(1), [0, 1]);
        assert_eq!(ticks(2), [0, 1, 2]);
    }

    #[test]
    fn bars_fill_the_frame_and_stand_on_the_baseline() {
        let frame = Frame::STANDARD;
        let values = vec![
            ("a".to_owned(), 10),
            ("b".to_owned(), 5),
            ("c".to_owned(), 0),
        ];
        let bars = bars(&values, frame, 10);
        assert_eq!(bars.len(), 3);
        // The tallest reaches the top of the plot, half is half as tall, zero has no height.
        assert!((bars[0].y - frame.top).abs() < 1e-9);
        assert!((bars[1].height * 2.0 - bars[0].height).abs() < 1e-9);
        assert!(bars[2].height.abs() < 1e-9);
        for bar in &bars {
            assert!((bar.y + bar.height - frame.baseline()).abs() < 1e-9);
            assert!(bar.x >= frame.left && bar.x + bar.width <= frame.width);
        }
        assert!(bars[0].x < bars[1].x && bars[1].x < bars[2].x);
    }

    #[test]
    fn dense_axes_label_evenly_and_sparse_ones_label_every_bar() {
        let shown: Vec<usize> = (0..21).filter(|index| labelled(*index, 21, 7)).collect();
        assert_eq!(shown, [0, 3, 6, 9, 12, 15, 18]);
        assert!((0..5).all(|index| labelled(index, 5, 7)));
    }

    #[test]
    fn horizontal_rows_keep_non_zero_values_largest_first() {
        let values = vec![
            ("overdue".to_owned(), 2),
            ("missing".to_owned(), 0),
            ("fork detected".to_owned(), 4),
        ];
        let rows = rows(&values, 300.0);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].label, "fork detected");
        assert!((rows[0].width - 300.0).abs() < 1e-9);
        assert!((rows[1].width - 150.0).abs() < 1e-9);
        assert!((rows[1].y - ROW_HEIGHT).abs() < 1e-9);
    }

    #[test]
    fn a_line_runs_from_the_left_edge_to_the_right_edge_in_time() {
        let frame = Frame::STANDARD;
        let points = polyline(&[(1_000, 0), (2_000, 4)], frame, 1_000, 2_000, 4);
        assert_eq!(points, "40.0,184.0 640.0,12.0");
        assert_eq!(polyline(&[], frame, 0, 1, 1), "");
    }
}
