//! The Burn backend (Burn 0.22, the default): a [`Network`] as a Burn module, trained on any device Burn was built
//! for. Burn picks its backend at run time from the [`Device`]: the pure-Rust `flex` CPU backend always, CUDA with
//! this crate's `cuda` feature, wgpu with its `wgpu` feature.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d as BurnConv2d;
use burn::nn::pool::AvgPool2dConfig;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, PaddingConfig2d};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig};
use burn::tensor::activation::{hard_sigmoid, hard_swish, log_softmax, relu, relu6};
use burn::tensor::{Device, Tensor, TensorData};
use genius_core::network::{Activation, Layer, Network};

use crate::data::Batch;
use crate::error::{Result, TrainError};
use crate::plan::{Cursor, Plan, Weights, is_cut};
use crate::session::Session;
use crate::settings::{OptimizerKind, TrainSettings};

/// A [`Network`] as a Burn module: its convolutions, batch norms and linear layers in [`Plan`] order, run by walking
/// the description.
#[derive(Module, Debug)]
pub struct BurnNet {
    convs: Vec<BurnConv2d>,
    norms: Vec<BatchNorm>,
    linears: Vec<Linear>,
    #[module(skip)]
    network: Network,
}

/// Activations between layers: a feature map or a vector.
enum Value {
    Map(Tensor<4>),
    Vector(Tensor<2>),
}

impl Value {
    fn map(self) -> Tensor<4> {
        match self {
            Self::Map(t) => t,
            Self::Vector(_) => unreachable!("the network was checked: a feature map is expected here"),
        }
    }
}

fn activate<const D: usize>(x: Tensor<D>, activation: Activation) -> Tensor<D> {
    match activation {
        Activation::Relu => relu(x),
        Activation::Relu6 => relu6(x),
        Activation::HardSwish => hard_swish(x),
        Activation::HardSigmoid => hard_sigmoid(x, 1.0 / 6.0, 0.5),
    }
}

fn param<const D: usize>(values: &[f32], shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values.to_vec(), shape), device))
}

impl BurnNet {
    /// The module of `network` with `plan`'s initial weights, on `device` (use an autodiff device to train it).
    pub fn new(network: &Network, plan: &Plan, device: &Device) -> Self {
        let convs = plan
            .convs
            .iter()
            .zip(&plan.conv_weights)
            .map(|(c, Weights { weight, bias })| {
                let p = c.padding();
                BurnConv2d {
                    weight: param(weight, [c.out_channels, c.in_channels / c.groups, c.kernel, c.kernel], device),
                    bias: bias.as_ref().map(|b| param(b, [c.out_channels], device)),
                    stride: [c.stride; 2],
                    kernel_size: [c.kernel; 2],
                    dilation: [1, 1],
                    groups: c.groups,
                    padding: PaddingConfig2d::Explicit(p, p, p, p),
                }
            })
            .collect();
        let norms = plan.norms.iter().map(|&c| BatchNormConfig::new(c).init(device)).collect();
        let linears = plan
            .linears
            .iter()
            .zip(&plan.linear_weights)
            .map(|(l, Weights { weight, bias })| {
                // Burn stores a linear weight as [in, out]; the plan holds PyTorch's [out, in].
                let mut transposed = vec![0f32; weight.len()];
                for o in 0..l.out_features {
                    for i in 0..l.in_features {
                        transposed[i * l.out_features + o] = weight[o * l.in_features + i];
                    }
                }
                Linear {
                    weight: param(&transposed, [l.in_features, l.out_features], device),
                    bias: bias.as_ref().map(|b| param(b, [l.out_features], device)),
                }
            })
            .collect();
        Self { convs, norms, linears, network: network.clone() }
    }

    /// The logits of a batch of images `[batch, channels, size, size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut cursor = Cursor::default();
        match self.sequence(&self.network.layers, Value::Map(x), &mut cursor) {
            Value::Vector(v) => v,
            Value::Map(_) => unreachable!("the network was checked: it ends in a vector"),
        }
    }

    fn sequence(&self, layers: &[Layer], mut x: Value, cursor: &mut Cursor) -> Value {
        for layer in layers {
            x = self.layer(layer, x, cursor);
        }
        x
    }

    fn layer(&self, layer: &Layer, x: Value, cursor: &mut Cursor) -> Value {
        match layer {
            Layer::Conv2d(_) => Value::Map(self.convs[cursor.next_conv()].forward(x.map())),
            Layer::BatchNorm(_) => Value::Map(self.norms[cursor.next_norm()].forward(x.map())),
            Layer::Activation(a) => match x {
                Value::Map(t) => Value::Map(activate(t, *a)),
                Value::Vector(t) => Value::Vector(activate(t, *a)),
            },
            Layer::AvgPool2d { kernel, stride, padding, count_include_pad } => {
                let p = *padding;
                let pool = AvgPool2dConfig::new([*kernel; 2])
                    .with_strides([*stride; 2])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .with_count_include_pad(*count_include_pad)
                    .init();
                Value::Map(pool.forward(x.map()))
            }
            Layer::GlobalAvgPool => {
                let t = x.map();
                let [n, c, _, _] = t.dims();
                Value::Vector(t.mean_dim(3).mean_dim(2).reshape([n, c]))
            }
            Layer::Linear { .. } => match x {
                Value::Vector(t) => Value::Vector(self.linears[cursor.next_linear()].forward(t)),
                Value::Map(_) => unreachable!("the network was checked: a linear layer reads a vector"),
            },
            Layer::Zero => Value::Map(x.map().zeros_like()),
            Layer::Sequential(layers) => self.sequence(layers, x, cursor),
            Layer::Residual { body, shortcut } => {
                let input = x.map();
                let out = self.sequence(body, Value::Map(input.clone()), cursor).map();
                let short = match shortcut {
                    Some(layers) => self.sequence(layers, Value::Map(input), cursor).map(),
                    None => input,
                };
                Value::Map(out + short)
            }
            Layer::SqueezeExcite { activation, gate, .. } => {
                let input = x.map();
                let s = input.clone().mean_dim(3).mean_dim(2);
                let s = self.convs[cursor.next_conv()].forward(s);
                let s = activate(s, *activation);
                let s = self.convs[cursor.next_conv()].forward(s);
                Value::Map(input * activate(s, *gate))
            }
            Layer::Cell(cell) => {
                let mut nodes = vec![x.map()];
                for edges in &cell.nodes {
                    let mut sum: Option<Tensor<4>> = None;
                    for edge in edges {
                        if is_cut(&edge.op) {
                            continue;
                        }
                        let out = self.sequence(&edge.op, Value::Map(nodes[edge.from].clone()), cursor).map();
                        sum = Some(match sum {
                            Some(s) => s + out,
                            None => out,
                        });
                    }
                    let node = sum.unwrap_or_else(|| nodes[edges[0].from].clone().zeros_like());
                    nodes.push(node);
                }
                Value::Map(nodes.pop().expect("a cell has nodes"))
            }
        }
    }
}

/// A Burn training session: the module, its optimizer, and the device.
pub struct BurnSession {
    model: Option<BurnNet>,
    /// The model in evaluation mode, made on the first evaluation after a step.
    valid: Option<BurnNet>,
    optimizer: ModuleOptimizer,
    device: Device,
    train_device: Device,
    label: String,
    classes: usize,
}

impl BurnSession {
    /// A session training `network` from `plan`'s weights on `device` with the optimizer of `settings`; `label` says
    /// which device it is (for reports).
    pub fn new(network: &Network, plan: &Plan, settings: &TrainSettings, device: Device, label: String) -> Self {
        let train_device = device.clone().autodiff();
        let model = BurnNet::new(network, plan, &train_device);
        let decay = (settings.weight_decay > 0.0).then(|| WeightDecayConfig::new(settings.weight_decay as f32));
        let optimizer = match settings.optimizer {
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum((settings.momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(settings.momentum)
                        .with_dampening(0.0)
                        .with_nesterov(settings.nesterov)
                }))
                .with_weight_decay(decay)
                .init(),
            OptimizerKind::Adam => AdamConfig::new()
                .with_beta_1(settings.betas.0 as f32)
                .with_beta_2(settings.betas.1 as f32)
                .with_epsilon(settings.adam_epsilon as f32)
                .with_weight_decay(decay)
                .init(),
        };
        Self { model: Some(model), valid: None, optimizer, device, train_device, label, classes: network.classes }
    }

    fn model(&self) -> &BurnNet {
        self.model.as_ref().expect("the model is only taken out during a step")
    }

    fn input(batch: &Batch, device: &Device) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(batch.images.clone(), [batch.len, batch.channels, batch.size, batch.size]),
            device,
        )
    }
}

fn host_vec(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data().try_to_vec::<f32>().map_err(|e| TrainError::Backend(format!("cannot read a tensor back: {e:?}")))
}

impl Session for BurnSession {
    fn describe(&self) -> String {
        format!("burn {}", self.label)
    }

    /// The elements of the module's trainable tensors (Burn's `num_params` also counts batch norms' running
    /// statistics, which are not trained).
    fn params(&self) -> u64 {
        let m = self.model();
        let n = |shape: burn::tensor::Shape| shape.num_elements() as u64;
        let convs: u64 =
            m.convs.iter().map(|c| n(c.weight.shape()) + c.bias.as_ref().map_or(0, |b| n(b.shape()))).sum();
        let linears: u64 =
            m.linears.iter().map(|l| n(l.weight.shape()) + l.bias.as_ref().map_or(0, |b| n(b.shape()))).sum();
        let norms: u64 = m.norms.iter().map(|b| n(b.gamma.shape()) + n(b.beta.shape())).sum();
        convs + linears + norms
    }

    fn train_step(&mut self, batch: &Batch, targets: &[f32], lr: f64) -> Result<f32> {
        let model = self.model.take().expect("the model is only taken out during a step");
        self.valid = None;
        let x = Self::input(batch, &self.train_device);
        let y =
            Tensor::<2>::from_data(TensorData::new(targets.to_vec(), [batch.len, self.classes]), &self.train_device);
        let logits = model.forward(x);
        let loss = (log_softmax(logits, 1) * y).sum_dim(1).mean().neg();
        let value: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optimizer.step(lr, model, grads));
        Ok(value)
    }

    fn logits(&mut self, batch: &Batch) -> Result<Vec<f32>> {
        if self.valid.is_none() {
            self.valid = Some(self.model().valid());
        }
        let model = self.valid.as_ref().expect("made above");
        host_vec(model.forward(Self::input(batch, &self.device)))
    }
}
