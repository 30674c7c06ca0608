//! Choosing a backend and a device at run time: `--backend burn|tch`, `--device cpu|cuda:N|wgpu`.

use std::fmt;
use std::str::FromStr;

use genius_core::network::Network;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::plan::Plan;
use crate::session::Session;
use crate::settings::TrainSettings;

/// The tensor library that trains the networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Burn 0.22 (pure Rust; always built).
    Burn,
    /// libtorch through tch (built with the `tch` feature).
    Tch,
}

impl BackendKind {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Burn => "burn",
            Self::Tch => "tch",
        }
    }

    /// Whether this build has the backend.
    pub fn available(self) -> bool {
        match self {
            Self::Burn => true,
            Self::Tch => cfg!(feature = "tch"),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "burn" => Ok(Self::Burn),
            "tch" | "libtorch" | "torch" => Ok(Self::Tch),
            other => Err(TrainError::settings("backend", format!("unknown backend `{other}`; use burn or tch"))),
        }
    }
}

/// Where the tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// The CPU (Burn: its `flex` backend).
    Cpu,
    /// Burn's `ndarray` CPU backend (deprecated by Burn; the `ndarray` feature, to compare CPU backends).
    Ndarray,
    /// The CUDA GPU of this index.
    Cuda(usize),
    /// A GPU through wgpu (Burn only).
    Wgpu,
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Ndarray => f.write_str("ndarray"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
            Self::Wgpu => f.write_str("wgpu"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "cpu" => Ok(Self::Cpu),
            "ndarray" => Ok(Self::Ndarray),
            "wgpu" => Ok(Self::Wgpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => t.strip_prefix("cuda:").and_then(|i| i.parse().ok()).map(Self::Cuda).ok_or_else(|| {
                TrainError::settings("device", format!("unknown device `{s}`; use cpu, cuda:N or wgpu"))
            }),
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = TrainError;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

fn missing(what: &str, feature: &str) -> TrainError {
    TrainError::Backend(format!(
        "this genius was built without {what}; rebuild with `--features {feature}` (genius-cli forwards the feature \
         to genius-train)"
    ))
}

/// Opens a training session for `network` on `backend` and `device`, starting from `plan`'s weights.
pub fn open(
    backend: BackendKind,
    device: DeviceSpec,
    network: &Network,
    plan: &Plan,
    settings: &TrainSettings,
) -> Result<Box<dyn Session + Send>> {
    match backend {
        BackendKind::Burn => {
            let burn_device = burn_device(device)?;
            Ok(Box::new(crate::burn_backend::BurnSession::new(
                network,
                plan,
                settings,
                burn_device,
                device.to_string(),
            )))
        }
        BackendKind::Tch => {
            #[cfg(feature = "tch")]
            {
                Ok(Box::new(crate::tch_backend::TchSession::new(network, plan, settings, device)?))
            }
            #[cfg(not(feature = "tch"))]
            {
                let _ = (network, plan, settings);
                Err(missing("libtorch (tch)", "tch; scripts/libtorch.sh gets libtorch"))
            }
        }
    }
}

/// Checks that this build has `backend` and that it can use `device`, before any data is read.
pub fn check_available(backend: BackendKind, device: DeviceSpec) -> Result<()> {
    match backend {
        BackendKind::Burn => burn_device(device).map(|_| ()),
        BackendKind::Tch => {
            #[cfg(feature = "tch")]
            {
                crate::tch_backend::tch_device(device).map(|_| ())
            }
            #[cfg(not(feature = "tch"))]
            {
                let _ = device;
                Err(missing("libtorch (tch)", "tch; scripts/libtorch.sh gets libtorch"))
            }
        }
    }
}

/// The Burn device for `device`.
pub fn burn_device(device: DeviceSpec) -> Result<burn::tensor::Device> {
    use burn::tensor::Device;
    match device {
        DeviceSpec::Cpu => Ok(Device::flex()),
        DeviceSpec::Ndarray => {
            #[cfg(feature = "ndarray")]
            {
                #[allow(deprecated)]
                Ok(Device::ndarray())
            }
            #[cfg(not(feature = "ndarray"))]
            {
                Err(missing("Burn's ndarray backend", "ndarray"))
            }
        }
        DeviceSpec::Cuda(index) => {
            #[cfg(feature = "cuda")]
            {
                Ok(Device::cuda(index))
            }
            #[cfg(not(feature = "cuda"))]
            {
                let _ = index;
                Err(missing("Burn's CUDA backend", "cuda"))
            }
        }
        DeviceSpec::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                Ok(Device::wgpu(Default::default()))
            }
            #[cfg(not(feature = "wgpu"))]
            {
                Err(missing("Burn's wgpu backend", "wgpu"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_backends_parse() {
        assert_eq!("cuda:1".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(1));
        assert_eq!("CPU".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!(DeviceSpec::Cuda(2).to_string(), "cuda:2");
        assert!("gpu".parse::<DeviceSpec>().unwrap_err().to_string().contains("use cpu, cuda:N or wgpu"));
        assert_eq!("tch".parse::<BackendKind>().unwrap(), BackendKind::Tch);
        assert!("jax".parse::<BackendKind>().is_err());
        let json = serde_json::to_value(DeviceSpec::Cuda(0)).unwrap();
        assert_eq!(json, serde_json::json!("cuda:0"));
        assert_eq!(serde_json::from_value::<DeviceSpec>(json).unwrap(), DeviceSpec::Cuda(0));
    }
}
