//! Differential privacy for synth's private models.
//!
//! Privacy is accounted in zero-concentrated differential privacy (zCDP, Bun and Steinke 2016):
//! the Gaussian mechanism with L2 sensitivity `s` and noise `sigma` is `s^2 / (2 sigma^2)`-zCDP,
//! the exponential mechanism at `epsilon` is `epsilon^2 / 8`-zCDP (Cesar and Rogers 2021), and
//! the rho of several mechanisms add up. The user's `(epsilon, delta)` becomes the largest rho
//! whose conversion ([`epsilon_of`], Canonne, Kamath and Steinke 2020) stays within epsilon;
//! a [`Budget`] hands out that rho, refuses to hand out more, and records every spend with its
//! mechanism's parameters for the manifest and the logs.
//!
//! Neighbouring tables differ by one row added or removed. The noise is drawn from the
//! operating system's secure generator ([`noise_source`]), never from the run's seed: the seed
//! is stored with every checkpoint, and noise that can be replayed can be subtracted.

mod budget;
mod config;
mod mechanisms;
mod rdp;
mod zcdp;

pub use budget::{Budget, Spend};
pub use config::{PrivacyConfig, noise_source};
pub use mechanisms::{
    exponential_probabilities, exponential_rho, exponential_select, gaussian_noise, gaussian_rho,
    gaussian_sigma, partition_threshold,
};
pub use rdp::{default_orders, dp_sgd_epsilon, dp_sgd_noise, rdp};
pub use zcdp::{epsilon_of, rho_for};

/// What can go wrong when spending a privacy budget.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrivacyError {
    /// A mechanism asked for more of the budget than is left.
    #[error(
        "{what} needs rho {asked:.3e} but only {left:.3e} of the budget is left (of {total:.3e}, from privacy.epsilon and privacy.delta); raise privacy.epsilon or measure less"
    )]
    Overspent {
        /// What the spend was for.
        what: String,
        /// The rho asked for.
        asked: f64,
        /// The rho left.
        left: f64,
        /// The whole budget's rho.
        total: f64,
    },
}
