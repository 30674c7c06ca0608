//! Plots: best-so-far curves with a confidence band, and final distributions, as SVG (plotters) and PNG (resvg).

use plotters::prelude::*;

use crate::ReportError;
use crate::digest::RunDigest;
use crate::stats::Describe;

/// The mean best-so-far curve of one optimizer over seeds, with a 95% confidence band (mean ± 1.96 SEM).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The optimizer's label.
    pub label: String,
    /// `(evaluations, mean, low, high)` per evaluation count with at least one run.
    pub points: Vec<(usize, f64, f64, f64)>,
}

/// The best-so-far curve (reported metric of the incumbent) of `runs` up to `budget` evaluations.
pub fn curve(label: &str, runs: &[&RunDigest], budget: usize) -> Curve {
    let mut points = Vec::new();
    for k in 1..=budget {
        let values: Vec<f64> = runs.iter().filter_map(|r| r.incumbent_at(k)).filter_map(|i| i.reported).collect();
        if values.is_empty() {
            continue;
        }
        let d = Describe::of(&values);
        let half = 1.96 * d.sem();
        points.push((k, d.mean, d.mean - half, d.mean + half));
    }
    Curve { label: label.to_owned(), points }
}

fn color(i: usize) -> RGBColor {
    // Okabe–Ito, readable by colour-blind readers.
    const PALETTE: [RGBColor; 8] = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(0, 0, 0),
        RGBColor(240, 228, 66),
    ];
    PALETTE[i % PALETTE.len()]
}

fn plot_error(e: impl std::fmt::Display) -> ReportError {
    ReportError::Plot(e.to_string())
}

/// Best-so-far curves, one per optimizer, each with its band, as an SVG document.
pub fn anytime_svg(title: &str, metric: &str, curves: &[Curve]) -> Result<String, ReportError> {
    curves_svg(title, &format!("{metric} of the incumbent"), curves)
}

/// Curves against evaluations, one per optimizer, each with its band, as an SVG document; `y` names the y axis.
pub fn curves_svg(title: &str, y: &str, curves: &[Curve]) -> Result<String, ReportError> {
    let budget = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0)).max().unwrap_or(1).max(2);
    // Start the y axis where the curves have settled a little, so early random picks do not flatten the plot.
    let settle = (budget / 10).max(1);
    let visible = curves.iter().flat_map(|c| c.points.iter().filter(|p| p.0 >= settle));
    let (mut lo, mut hi) = visible.fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.2), hi.max(p.3)));
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(1f64..budget as f64, (lo - pad)..(hi + pad))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_labels(budget.min(10))
            .x_label_formatter(&|x| whole_number(*x))
            .x_desc("evaluations")
            .y_desc(y)
            .draw()
            .map_err(plot_error)?;
        let (bottom, top) = (lo - pad, hi + pad);
        for (i, c) in curves.iter().enumerate() {
            let col = color(i);
            // Points whose mean lies outside the y range (the first random picks) are not drawn flat along an edge:
            // the line enters the plot where it crosses the edge.
            let inside: Vec<(usize, f64, f64, f64)> =
                c.points.iter().copied().filter(|p| (bottom..=top).contains(&p.1)).collect();
            let mut band: Vec<(f64, f64)> = inside.iter().map(|p| (p.0 as f64, p.3.min(top))).collect();
            band.extend(inside.iter().rev().map(|p| (p.0 as f64, p.2.max(bottom))));
            chart.draw_series(std::iter::once(Polygon::new(band, col.mix(0.18)))).map_err(plot_error)?;
            let line = line_within(&c.points, bottom, top);
            chart
                .draw_series(LineSeries::new(line, col.stroke_width(2)))
                .map_err(plot_error)?
                .label(c.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// `x` as an axis label: a whole number without its `.0`, anything else as it is.
fn whole_number(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{}", x.round() as i64) } else { format!("{x}") }
}

/// The mean curve of `points` as drawn within `bottom..=top`: the points inside, plus, where the curve comes in from
/// outside (the first random picks below the range, or above it for a metric that falls), the point where it
/// crosses the edge. Nothing is drawn flat along an edge.
fn line_within(points: &[(usize, f64, f64, f64)], bottom: f64, top: f64) -> Vec<(f64, f64)> {
    let mut line = Vec::new();
    let mut previous: Option<(f64, f64)> = None;
    for p in points {
        let (x, y) = (p.0 as f64, p.1);
        let inside = (bottom..=top).contains(&y);
        if let Some((px, py)) = previous {
            let was_inside = (bottom..=top).contains(&py);
            if inside != was_inside {
                let edge = if (py < bottom) || (y < bottom) { bottom } else { top };
                let t = (edge - py) / (y - py);
                line.push((px + t * (x - px), edge));
            }
        }
        if inside {
            line.push((x, y));
        }
        previous = Some((x, y));
    }
    line
}

/// The final distribution of each optimizer: a box (quartiles), its median, whiskers to the extremes, and every run
/// as a point, as an SVG document.
pub fn distribution_svg(title: &str, metric: &str, groups: &[(String, Vec<f64>)]) -> Result<String, ReportError> {
    let all = groups.iter().flat_map(|g| g.1.iter().copied());
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let labels: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..(groups.len() as f64 - 0.5), (lo - pad)..(hi + pad))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups.len().max(1))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(metric)
            .draw()
            .map_err(plot_error)?;
        for (i, (_, values)) in groups.iter().enumerate() {
            if values.is_empty() {
                continue;
            }
            let col = color(i);
            let d = Describe::of(values);
            let (min, max) = values.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            let x = i as f64;
            chart
                .draw_series([
                    Rectangle::new([(x - 0.25, d.q25), (x + 0.25, d.q75)], col.mix(0.25).filled()),
                    Rectangle::new([(x - 0.25, d.q25), (x + 0.25, d.q75)], col.stroke_width(1)),
                ])
                .map_err(plot_error)?;
            chart
                .draw_series([
                    PathElement::new(vec![(x - 0.25, d.median), (x + 0.25, d.median)], col.stroke_width(3)),
                    PathElement::new(vec![(x, min), (x, d.q25)], col.stroke_width(1)),
                    PathElement::new(vec![(x, d.q75), (x, max)], col.stroke_width(1)),
                ])
                .map_err(plot_error)?;
            let n = values.len().max(2) as f64;
            chart
                .draw_series(values.iter().enumerate().map(|(j, &v)| {
                    let jitter = (j as f64 / (n - 1.0) - 0.5) * 0.3;
                    Circle::new((x + jitter, v), 2, col.filled())
                }))
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// One optimizer's fronts in a fronts plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Fronts {
    /// The optimizer's label.
    pub label: String,
    /// Every point of its runs' final fronts, pooled over seeds.
    pub points: Vec<(f64, f64)>,
    /// The staircase of its 50% attainment front (what half of the seeds reach), as a line; empty for none.
    pub median: Vec<(f64, f64)>,
}

/// Pareto fronts of two objectives, in their own units: for each optimizer, every point of its runs' final fronts
/// (pooled over seeds) and the staircase half of its seeds attain, as an SVG document.
pub fn fronts_svg(title: &str, (x_name, y_name): (&str, &str), groups: &[Fronts]) -> Result<String, ReportError> {
    let all = || groups.iter().flat_map(|g| g.points.iter().chain(&g.median).copied());
    let range = |f: fn((f64, f64)) -> f64| {
        let (lo, hi) = all().map(f).fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if lo > hi {
            (0.0, 1.0)
        } else {
            let pad = ((hi - lo) * 0.05).max(1e-9 + hi.abs() * 1e-6);
            (lo - pad, hi + pad)
        }
    };
    let ((x0, x1), (y0, y1)) = (range(|p| p.0), range(|p| p.1));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_error)?;
        chart.configure_mesh().x_desc(x_name).y_desc(y_name).draw().map_err(plot_error)?;
        for (i, g) in groups.iter().enumerate() {
            let col = color(i);
            chart
                .draw_series(g.points.iter().map(|&p| Circle::new(p, 3, col.mix(0.5).filled())))
                .map_err(plot_error)?
                .label(g.label.clone())
                .legend(move |(x, y)| Circle::new((x + 9, y), 3, col.filled()));
            if !g.median.is_empty() {
                chart
                    .draw_series(LineSeries::new(g.median.iter().copied(), col.stroke_width(2)))
                    .map_err(plot_error)?
                    .label(format!("{}: attained by half of the seeds", g.label))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2)));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Renders an SVG document to PNG, with the system's fonts for its text.
pub fn png(svg: &str) -> Result<Vec<u8>, ReportError> {
    use resvg::{tiny_skia, usvg};
    let mut options = usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    // The plots ask for "sans-serif"; map it to a sans face this system has (fontdb's default, Arial, is often absent).
    let families: Vec<String> = fonts.faces().flat_map(|f| f.families.iter().map(|(name, _)| name.clone())).collect();
    let preferred = ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Noto Sans", "FreeSans"];
    if let Some(family) = preferred
        .iter()
        .find(|p| families.iter().any(|f| f == *p))
        .map(|p| p.to_string())
        .or_else(|| families.first().cloned())
    {
        fonts.set_sans_serif_family(family);
    }
    let tree = usvg::Tree::from_str(svg, &options).map_err(plot_error)?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| ReportError::Plot("the plot has no area".into()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(plot_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_from_below_the_range_enters_at_the_edge_instead_of_running_along_it() {
        // A best-so-far mean that starts far below the plotted range, as the first random picks do.
        let points: Vec<(usize, f64, f64, f64)> =
            [(1, 80.0), (2, 85.0), (3, 91.0), (4, 93.0), (5, 94.0)].iter().map(|&(k, m)| (k, m, m, m)).collect();
        let line = line_within(&points, 90.0, 95.0);
        assert_eq!(line.len(), 4, "{line:?}");
        assert!((line[0].0 - (2.0 + 5.0 / 6.0)).abs() < 1e-9 && line[0].1 == 90.0, "{line:?}");
        assert_eq!(&line[1..], &[(3.0, 91.0), (4.0, 93.0), (5.0, 94.0)]);
        assert!(line.iter().filter(|p| p.1 == 90.0).count() == 1, "one point on the edge, not a flat run: {line:?}");

        // A metric that falls (a loss) comes in from above.
        let falling: Vec<(usize, f64, f64, f64)> =
            [(1, 9.0), (2, 3.0), (3, 2.0)].iter().map(|&(k, m)| (k, m, m, m)).collect();
        let line = line_within(&falling, 1.0, 4.0);
        assert_eq!(line, vec![(1.0 + 5.0 / 6.0, 4.0), (2.0, 3.0), (3.0, 2.0)]);
    }

    #[test]
    fn evaluations_are_labelled_as_whole_numbers() {
        assert_eq!(whole_number(10.0), "10");
        assert_eq!(whole_number(2.5), "2.5");
        // Accuracies well away from whole numbers, so every whole-number label is an evaluation count.
        let points = (1..=10).map(|k| (k, 90.3 + 0.07 * k as f64, 90.3, 91.1)).collect();
        let svg = curves_svg("t", "acc", &[Curve { label: "random".into(), points }]).unwrap();
        let labels: Vec<&str> =
            svg.split("<text").filter_map(|t| t.split('>').nth(1)?.split('<').next()).map(str::trim).collect();
        assert!(labels.contains(&"10") && !labels.contains(&"10.0"), "integer ticks read 10, not 10.0: {labels:?}");
    }
}
