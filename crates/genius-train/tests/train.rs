//! Training on the Burn backend (and on tch, with the `tch` feature): every layer kind runs forward and backward,
//! parameters are counted as the description counts them, training learns, and a seed repeats a run exactly.

use genius_core::network::{Activation, Cell, Conv2d, Edge, FlopsCounting, Layer, Network};
use genius_train::TrainSettings;
use genius_train::backend::{self, BackendKind, DeviceSpec};
use genius_train::data::{Augmentation, ImageSet, SplitSpec, Splits};
use genius_train::plan::Plan;
use genius_train::session::{self, Session};

/// A small network using every kind of layer of the description.
fn every_layer_network(classes: usize) -> Network {
    let relu = Some(Activation::Relu);
    let cell = Cell {
        nodes: vec![
            vec![Edge {
                from: 0,
                op: vec![
                    Layer::Activation(Activation::Relu),
                    Layer::Conv2d(Conv2d::new(8, 8, 3, 1)),
                    Layer::BatchNorm(8),
                ],
            }],
            vec![
                Edge {
                    from: 0,
                    op: vec![Layer::AvgPool2d { kernel: 3, stride: 1, padding: 1, count_include_pad: false }],
                },
                Edge { from: 1, op: vec![] },
            ],
            vec![
                Edge { from: 0, op: vec![Layer::Zero] },
                Edge { from: 2, op: vec![] },
                Edge { from: 1, op: vec![Layer::Zero] },
            ],
        ],
    };
    let mut layers = Layer::conv_bn(Conv2d::new(3, 8, 3, 1), Some(Activation::HardSwish));
    layers.push(Layer::Cell(cell));
    layers.push(Layer::Residual {
        body: {
            let mut b = Layer::conv_bn(Conv2d::new(8, 16, 1, 1), relu);
            b.extend(Layer::conv_bn(Conv2d::depthwise(16, 5, 2), Some(Activation::Relu6)));
            b.push(Layer::SqueezeExcite {
                channels: 16,
                reduced: 8,
                activation: Activation::Relu,
                gate: Activation::HardSigmoid,
            });
            b.extend(Layer::conv_bn(Conv2d::new(16, 12, 1, 1), None));
            b
        },
        shortcut: Some(vec![
            Layer::AvgPool2d { kernel: 2, stride: 2, padding: 0, count_include_pad: true },
            Layer::Conv2d(Conv2d::new(8, 12, 1, 1).with_bias()),
        ]),
    });
    layers.push(Layer::Sequential(vec![Layer::Residual {
        body: Layer::conv_bn(Conv2d::new(12, 12, 3, 1), None),
        shortcut: None,
    }]));
    layers.push(Layer::GlobalAvgPool);
    layers.push(Layer::Linear { in_features: 12, out_features: 16, bias: true });
    layers.push(Layer::Activation(Activation::HardSwish));
    layers.push(Layer::Linear { in_features: 16, out_features: classes, bias: false });
    Network::new(3, 12, classes, FlopsCounting::MACS, layers).named("every layer")
}

/// A learnable toy problem: class 0 images are bright on the left, class 1 on the right, class 2 at the top, with
/// noise; grayscale, `side × side`.
fn toy_images(n: usize, side: usize, seed: u64) -> ImageSet {
    use rand::RngExt;
    let mut rng = genius_core::rng::seeded(seed);
    let mut images = Vec::with_capacity(n * side * side);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 3) as u8;
        for y in 0..side {
            for x in 0..side {
                let bright = match class {
                    0 => x < side / 2,
                    1 => x >= side / 2,
                    _ => y < side / 2,
                };
                let base: i32 = if bright { 170 } else { 60 };
                images.push((base + rng.random_range(-50..50)).clamp(0, 255) as u8);
            }
        }
        labels.push(class);
    }
    ImageSet { images, labels, channels: 1, height: side, width: side, classes: 3 }
}

fn toy_splits(resolution: usize) -> Splits {
    let train = toy_images(360, 10, 1);
    let test = toy_images(60, 10, 2);
    let spec = SplitSpec { validation: 60, subset: None, test_subset: None, resolution, seed: 5 };
    Splits::new("toy", &train, &test, spec, Augmentation { crop_padding: 1, flip: false }).unwrap()
}

fn settings() -> TrainSettings {
    TrainSettings {
        epochs: 3,
        batch_size: 32,
        learning_rate: 0.05,
        validation: 60,
        seed: 11,
        ..TrainSettings::default()
    }
}

fn open(kind: BackendKind, network: &Network, settings: &TrainSettings) -> Box<dyn Session + Send> {
    let plan = Plan::new(network, settings.seed);
    backend::open(kind, DeviceSpec::Cpu, network, &plan, settings).unwrap()
}

#[test]
fn every_layer_kind_trains_on_burn_and_counts_its_parameters() {
    let network = every_layer_network(3);
    network.check().unwrap();
    let splits = toy_splits(12);
    let settings = settings();
    let mut session = open(BackendKind::Burn, &network, &settings);
    assert_eq!(session.params(), network.params());
    let report = session::fit(session.as_mut(), &splits, &settings, 3, &|| false).unwrap();
    assert_eq!(report.params, network.params());
    assert_eq!(report.epoch_loss.len(), 3);
    assert!(report.epoch_loss[2] < report.epoch_loss[0], "{:?}", report.epoch_loss);
    assert!(report.val.accuracy > 80.0, "validation accuracy {} on an easy problem", report.val.accuracy);
    assert!(report.test.accuracy > 80.0, "test accuracy {}", report.test.accuracy);
    assert!(report.loss_curve.len() >= 3);
}

#[test]
fn a_seed_repeats_a_burn_training_exactly() {
    let network = every_layer_network(3);
    let splits = toy_splits(12);
    let settings = TrainSettings { epochs: 1, ..settings() };
    let run = || {
        let mut session = open(BackendKind::Burn, &network, &settings);
        session::fit(session.as_mut(), &splits, &settings, 3, &|| false).unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.loss_curve, b.loss_curve);
    assert_eq!((a.val, a.test), (b.val, b.test));
    let other = TrainSettings { seed: 12, ..settings.clone() };
    let mut session = open(BackendKind::Burn, &network, &other);
    let c = session::fit(session.as_mut(), &splits, &other, 3, &|| false).unwrap();
    assert_ne!(a.loss_curve, c.loss_curve, "another seed, another run");
}

#[test]
fn adam_step_schedule_and_label_smoothing_train_too() {
    let network = every_layer_network(3);
    let splits = toy_splits(12);
    let settings = TrainSettings {
        optimizer: genius_train::OptimizerKind::Adam,
        learning_rate: 0.01,
        schedule: genius_train::ScheduleKind::Step,
        step_epochs: 1,
        label_smoothing: 0.1,
        weight_decay: 0.0,
        ..settings()
    };
    let mut session = open(BackendKind::Burn, &network, &settings);
    let report = session::fit(session.as_mut(), &splits, &settings, 3, &|| false).unwrap();
    assert!(report.val.accuracy > 70.0, "{}", report.val.accuracy);
}

#[test]
fn a_missing_backend_or_device_says_how_to_get_it() {
    let network = every_layer_network(3);
    let plan = Plan::new(&network, 0);
    if !cfg!(feature = "tch") {
        let e = backend::open(BackendKind::Tch, DeviceSpec::Cpu, &network, &plan, &settings()).err().unwrap();
        assert!(e.to_string().contains("--features tch"), "{e}");
    }
    if !cfg!(feature = "cuda") {
        let e = backend::check_available(BackendKind::Burn, DeviceSpec::Cuda(0)).unwrap_err();
        assert!(e.to_string().contains("--features cuda"), "{e}");
    }
}

/// The same plan gives the same network on both backends: equal parameter counts, equal logits before training,
/// and close losses along the first steps.
#[cfg(feature = "tch")]
#[test]
fn burn_and_tch_agree_on_the_same_weights() {
    use genius_train::data;
    let network = every_layer_network(3);
    let splits = toy_splits(12);
    let settings = TrainSettings { epochs: 1, augment: false, ..settings() };
    let mut burn = open(BackendKind::Burn, &network, &settings);
    let mut tch = open(BackendKind::Tch, &network, &settings);
    assert_eq!(tch.params(), network.params());
    let mut rng = genius_core::rng::seeded(0);
    let batch = data::batch(
        &splits.train,
        &(0..16).collect::<Vec<_>>(),
        3,
        &splits.mean,
        &splits.std,
        Augmentation::NONE,
        &mut rng,
    );
    let (a, b) = (burn.logits(&batch).unwrap(), tch.logits(&batch).unwrap());
    let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(diff < 1e-4, "initial logits differ by {diff}");
    let targets: Vec<f32> = batch.labels.iter().flat_map(|&l| settings.target(l as usize, 3)).collect();
    for step in 0..5 {
        let (la, lb) =
            (burn.train_step(&batch, &targets, 0.05).unwrap(), tch.train_step(&batch, &targets, 0.05).unwrap());
        assert!((la - lb).abs() < 1e-3 * (1.0 + la.abs()), "step {step}: burn loss {la}, tch loss {lb}");
    }
}

#[cfg(feature = "tch")]
#[test]
fn tch_trains_the_toy_problem() {
    let network = every_layer_network(3);
    let splits = toy_splits(12);
    let settings = settings();
    let mut session = open(BackendKind::Tch, &network, &settings);
    let report = session::fit(session.as_mut(), &splits, &settings, 3, &|| false).unwrap();
    assert_eq!(report.params, network.params());
    assert!(report.val.accuracy > 80.0, "{}", report.val.accuracy);
}

/// A few hundred real Fashion-MNIST images (Debian's `dataset-fashion-mnist`), at 14×14, cut as the evaluator cuts
/// them.
fn fashion_splits() -> Splits {
    use genius_train::DatasetKind;
    let dir = DatasetKind::FashionMnist.default_dir(&genius_train::data::sources::cache_root());
    assert!(
        dir.join("train-images-idx3-ubyte.gz").is_file(),
        "this test needs Fashion-MNIST: run the tests with scripts/test.sh (it fetches it), or `genius data fetch fashion-mnist`"
    );
    let (train, test) = DatasetKind::FashionMnist.read(&dir).unwrap();
    let spec = SplitSpec { validation: 200, subset: Some(640), test_subset: Some(200), resolution: 14, seed: 2 };
    Splits::new("fashion-mnist", &train, &test, spec, Augmentation::NONE).unwrap()
}

/// A small convolutional network for one-channel 14×14 images and ten classes.
fn small_cnn() -> Network {
    let relu = Some(Activation::Relu);
    let mut layers = Layer::conv_bn(Conv2d::new(1, 16, 3, 1), relu);
    layers.extend(Layer::conv_bn(Conv2d::new(16, 32, 3, 2), relu));
    layers.push(Layer::Residual { body: Layer::conv_bn(Conv2d::new(32, 32, 3, 1), relu), shortcut: None });
    layers.extend(Layer::conv_bn(Conv2d::new(32, 64, 3, 2), relu));
    layers.push(Layer::GlobalAvgPool);
    layers.push(Layer::Linear { in_features: 64, out_features: 10, bias: true });
    Network::new(1, 14, 10, FlopsCounting::MACS, layers).named("small cnn")
}

/// Trains [`small_cnn`] on 640 real Fashion-MNIST images for a few epochs on `kind` and checks it beats chance (10%)
/// by far on the held-out validation and test images.
fn learns_fashion_mnist(kind: BackendKind) {
    let splits = fashion_splits();
    let network = small_cnn();
    network.check().unwrap();
    let settings = TrainSettings {
        epochs: 4,
        batch_size: 32,
        learning_rate: 0.05,
        validation: 200,
        augment: false,
        seed: 4,
        ..TrainSettings::default()
    };
    let mut session = open(kind, &network, &settings);
    let report = session::fit(session.as_mut(), &splits, &settings, 1, &|| false).unwrap();
    assert_eq!(report.params, network.params());
    assert!(report.epoch_loss[3] < report.epoch_loss[0], "{kind}: {:?}", report.epoch_loss);
    // Chance is 10%; a few hundred steps of this network reach about 65-75%.
    assert!(report.val.accuracy > 50.0, "{kind}: validation accuracy {}", report.val.accuracy);
    assert!(report.test.accuracy > 50.0, "{kind}: test accuracy {}", report.test.accuracy);
}

#[test]
fn burn_learns_real_fashion_mnist() {
    learns_fashion_mnist(BackendKind::Burn);
}

#[cfg(feature = "tch")]
#[test]
fn tch_learns_real_fashion_mnist() {
    learns_fashion_mnist(BackendKind::Tch);
}
