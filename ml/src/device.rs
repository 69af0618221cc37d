//! The one place a Burn backend is chosen. Everything else takes a `Device`.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::{MlError, MlResult};

/// Backends selectable with `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Burn's pure-Rust Flex CPU backend (SIMD + rayon): the fastest CPU backend measured here.
    #[default]
    Cpu,
    /// The deprecated burn-ndarray CPU backend, kept for comparison (cargo feature `ndarray`).
    NdArray,
    /// GPU through wgpu (Vulkan/Metal/DX12; cargo feature `wgpu`).
    Wgpu,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Cpu, Backend::NdArray, Backend::Wgpu];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::NdArray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The device for this backend, or an error naming the cargo feature it needs.
    pub fn device(self) -> MlResult<Device> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::NdArray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(0))),
            #[allow(unreachable_patterns)]
            other => Err(MlError::BackendUnavailable(other.name().to_owned())),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(Backend::Cpu),
            "ndarray" => Ok(Backend::NdArray),
            "wgpu" | "gpu" => Ok(Backend::Wgpu),
            other => Err(format!(
                "unknown backend {other:?}; expected cpu, ndarray or wgpu"
            )),
        }
    }
}
