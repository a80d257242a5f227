//! Output spans: contiguous groups of encoded columns sharing one generator activation.

use serde::{Deserialize, Serialize};

/// The activation a generator applies to a span of its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// A scalar in [-1, 1].
    Tanh,
    /// A one-hot choice (gumbel-softmax while training, argmax when decoding).
    Softmax,
}

/// A contiguous run of `width` encoded columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Number of encoded columns.
    pub width: usize,
    /// How the generator produces them.
    pub activation: Activation,
}

impl Span {
    /// A scalar span of width 1.
    pub fn scalar() -> Self {
        Span {
            width: 1,
            activation: Activation::Tanh,
        }
    }

    /// A one-hot span over `width` choices.
    pub fn one_hot(width: usize) -> Self {
        Span {
            width,
            activation: Activation::Softmax,
        }
    }
}
