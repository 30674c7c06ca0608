//! The libtorch backend, through tch 0.26 (the `tch` feature; needs libtorch 2.13.0, which `scripts/libtorch.sh`
//! assembles from PyPI's torch wheel). The same [`Network`] walk as the Burn backend, on libtorch's CPU or CUDA
//! kernels.

use genius_core::network::{Activation, Layer, Network};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::backend::DeviceSpec;
use crate::data::Batch;
use crate::error::{Result, TrainError};
use crate::plan::{Cursor, Plan, is_cut};
use crate::session::Session;
use crate::settings::{OptimizerKind, TrainSettings};

/// The tch device for `device`.
pub fn tch_device(device: DeviceSpec) -> Result<Device> {
    match device {
        DeviceSpec::Cpu => Ok(Device::Cpu),
        DeviceSpec::Cuda(index) if tch::Cuda::is_available() && index < tch::Cuda::device_count() as usize => {
            Ok(Device::Cuda(index))
        }
        DeviceSpec::Cuda(index) => Err(TrainError::Backend(format!(
            "libtorch sees no CUDA device {index} ({} device(s)); check the driver and that the CUDA libraries of \
             scripts/libtorch.sh are on the library path",
            tch::Cuda::device_count()
        ))),
        other => Err(TrainError::Backend(format!("the tch backend runs on cpu or cuda:N, not {other}"))),
    }
}

/// A [`Network`] as libtorch layers in [`Plan`] order.
#[derive(Debug)]
pub struct TchNet {
    convs: Vec<nn::Conv2D>,
    norms: Vec<nn::BatchNorm>,
    linears: Vec<nn::Linear>,
    network: Network,
}

fn activate(x: &Tensor, activation: Activation) -> Tensor {
    match activation {
        Activation::Relu => x.relu(),
        Activation::Relu6 => x.relu6(),
        Activation::HardSwish => x.hardswish(),
        Activation::HardSigmoid => x.hardsigmoid(),
    }
}

fn copy_into(target: &mut Tensor, values: &[f32]) {
    let source = Tensor::from_slice(values).view(target.size().as_slice()).to_device(target.device());
    tch::no_grad(|| target.copy_(&source));
}

impl TchNet {
    /// The layers of `network` with `plan`'s initial weights, as variables of `vs`.
    pub fn new(vs: &nn::Path<'_>, network: &Network, plan: &Plan) -> Self {
        let convs = plan
            .convs
            .iter()
            .zip(&plan.conv_weights)
            .enumerate()
            .map(|(i, (c, w))| {
                let config = nn::ConvConfig {
                    stride: c.stride as i64,
                    padding: c.padding() as i64,
                    groups: c.groups as i64,
                    bias: c.bias,
                    ..Default::default()
                };
                let mut conv = nn::conv2d(
                    vs / format!("conv{i}"),
                    c.in_channels as i64,
                    c.out_channels as i64,
                    c.kernel as i64,
                    config,
                );
                copy_into(&mut conv.ws, &w.weight);
                if let (Some(bs), Some(b)) = (conv.bs.as_mut(), w.bias.as_ref()) {
                    copy_into(bs, b);
                }
                conv
            })
            .collect();
        let norms = plan
            .norms
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                // tch draws batch-norm scales uniformly in [0, 1); PyTorch (and the plan) start them at 1.
                let config = nn::BatchNormConfig { ws_init: nn::Init::Const(1.0), ..Default::default() };
                nn::batch_norm2d(vs / format!("bn{i}"), c as i64, config)
            })
            .collect();
        let linears = plan
            .linears
            .iter()
            .zip(&plan.linear_weights)
            .enumerate()
            .map(|(i, (l, w))| {
                let config = nn::LinearConfig { bias: l.bias, ..Default::default() };
                let mut linear =
                    nn::linear(vs / format!("linear{i}"), l.in_features as i64, l.out_features as i64, config);
                copy_into(&mut linear.ws, &w.weight);
                if let (Some(bs), Some(b)) = (linear.bs.as_mut(), w.bias.as_ref()) {
                    copy_into(bs, b);
                }
                linear
            })
            .collect();
        Self { convs, norms, linears, network: network.clone() }
    }

    /// The logits of a batch of images `[batch, channels, size, size]`; batch norms use batch statistics (and update
    /// their running ones) when `train`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut cursor = Cursor::default();
        self.sequence(&self.network.layers, x.shallow_clone(), train, &mut cursor)
    }

    fn sequence(&self, layers: &[Layer], mut x: Tensor, train: bool, cursor: &mut Cursor) -> Tensor {
        for layer in layers {
            x = self.layer(layer, x, train, cursor);
        }
        x
    }

    fn layer(&self, layer: &Layer, x: Tensor, train: bool, cursor: &mut Cursor) -> Tensor {
        use tch::nn::{Module, ModuleT};
        match layer {
            Layer::Conv2d(_) => self.convs[cursor.next_conv()].forward(&x),
            Layer::BatchNorm(_) => self.norms[cursor.next_norm()].forward_t(&x, train),
            Layer::Activation(a) => activate(&x, *a),
            Layer::AvgPool2d { kernel, stride, padding, count_include_pad } => {
                let (k, s, p) = (*kernel as i64, *stride as i64, *padding as i64);
                x.avg_pool2d([k, k], [s, s], [p, p], false, *count_include_pad, None::<i64>)
            }
            Layer::GlobalAvgPool => x.mean_dim([2i64, 3].as_slice(), false, Kind::Float),
            Layer::Linear { .. } => self.linears[cursor.next_linear()].forward(&x),
            Layer::Zero => x.zeros_like(),
            Layer::Sequential(layers) => self.sequence(layers, x, train, cursor),
            Layer::Residual { body, shortcut } => {
                let out = self.sequence(body, x.shallow_clone(), train, cursor);
                let short = match shortcut {
                    Some(layers) => self.sequence(layers, x, train, cursor),
                    None => x,
                };
                out + short
            }
            Layer::SqueezeExcite { activation, gate, .. } => {
                let s = x.mean_dim([2i64, 3].as_slice(), true, Kind::Float);
                let s = self.convs[cursor.next_conv()].forward(&s);
                let s = activate(&s, *activation);
                let s = self.convs[cursor.next_conv()].forward(&s);
                x * activate(&s, *gate)
            }
            Layer::Cell(cell) => {
                let mut nodes = vec![x];
                for edges in &cell.nodes {
                    let mut sum: Option<Tensor> = None;
                    for edge in edges {
                        if is_cut(&edge.op) {
                            continue;
                        }
                        let out = self.sequence(&edge.op, nodes[edge.from].shallow_clone(), train, cursor);
                        sum = Some(match sum {
                            Some(s) => s + out,
                            None => out,
                        });
                    }
                    let node = sum.unwrap_or_else(|| nodes[edges[0].from].zeros_like());
                    nodes.push(node);
                }
                nodes.pop().expect("a cell has nodes")
            }
        }
    }
}

/// A tch training session.
pub struct TchSession {
    vs: nn::VarStore,
    net: TchNet,
    optimizer: nn::Optimizer,
    device: Device,
    spec: DeviceSpec,
    classes: usize,
}

impl std::fmt::Debug for TchSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TchSession").field("device", &self.spec).field("network", &self.net.network.name).finish()
    }
}

fn tch_error(e: tch::TchError) -> TrainError {
    TrainError::Backend(format!("libtorch: {e}"))
}

impl TchSession {
    /// A session training `network` from `plan`'s weights on `device` with the optimizer of `settings`.
    pub fn new(network: &Network, plan: &Plan, settings: &TrainSettings, spec: DeviceSpec) -> Result<Self> {
        let device = tch_device(spec)?;
        let vs = nn::VarStore::new(device);
        let net = TchNet::new(&vs.root(), network, plan);
        let lr = settings.learning_rate;
        let optimizer = match settings.optimizer {
            OptimizerKind::Sgd => nn::Sgd {
                momentum: settings.momentum,
                dampening: 0.0,
                wd: settings.weight_decay,
                nesterov: settings.nesterov,
            }
            .build(&vs, lr),
            OptimizerKind::Adam => nn::Adam {
                beta1: settings.betas.0,
                beta2: settings.betas.1,
                wd: settings.weight_decay,
                eps: settings.adam_epsilon,
                amsgrad: false,
            }
            .build(&vs, lr),
        }
        .map_err(tch_error)?;
        Ok(Self { vs, net, optimizer, device, spec, classes: network.classes })
    }

    fn input(&self, batch: &Batch) -> Tensor {
        Tensor::from_slice(&batch.images)
            .view([batch.len as i64, batch.channels as i64, batch.size as i64, batch.size as i64])
            .to_device(self.device)
    }
}

impl Session for TchSession {
    fn describe(&self) -> String {
        format!("tch {}", self.spec)
    }

    fn params(&self) -> u64 {
        self.vs.trainable_variables().iter().map(|t| t.numel() as u64).sum()
    }

    fn train_step(&mut self, batch: &Batch, targets: &[f32], lr: f64) -> Result<f32> {
        let x = self.input(batch);
        let y = Tensor::from_slice(targets).view([batch.len as i64, self.classes as i64]).to_device(self.device);
        let logits = self.net.forward(&x, true);
        let loss =
            -(logits.log_softmax(1, Kind::Float) * y).sum_dim_intlist(1i64, false, Kind::Float).mean(Kind::Float);
        self.optimizer.set_lr(lr);
        self.optimizer.backward_step(&loss);
        Ok(loss.double_value(&[]) as f32)
    }

    fn logits(&mut self, batch: &Batch) -> Result<Vec<f32>> {
        let x = self.input(batch);
        let logits = tch::no_grad(|| self.net.forward(&x, false));
        Vec::<f32>::try_from(logits.to_device(Device::Cpu).flatten(0, -1)).map_err(tch_error)
    }
}
