//! The `[privacy]` settings.

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use synth_core::{ConfigError, Validate};

/// `[privacy]`: train with differential privacy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// The epsilon of the `(epsilon, delta)` guarantee of the whole release (the checkpoint
    /// and every sample drawn from it).
    pub epsilon: f64,
    /// The delta of the guarantee: the chance that the epsilon bound fails. Keep it well below
    /// 1 / rows; training refuses a delta of 1 / rows or more.
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// Columns whose domain (a continuous column's min and max, a discrete column's category
    /// list, as in the data or metadata.toml) is public knowledge, so it costs nothing; `"*"`
    /// declares every column's. The other columns' domains are measured privately, from the
    /// budget.
    #[serde(default)]
    pub public: Vec<String>,
    /// DP-SGD (TVAE): every row's gradient is clipped to this L2 norm before the noise.
    #[serde(default = "default_clip_norm")]
    pub clip_norm: f64,
    /// Draw the noise from the run's seed instead of the operating system's secure generator.
    /// For tests and demonstrations only: the seed is stored in the checkpoint, so anyone can
    /// replay the noise, and the guarantee is void.
    #[serde(default)]
    pub reproducible_noise: bool,
}

/// The default delta: far below 1 / rows for any table under a billion rows, and not taken
/// from the table's size (which is itself private).
fn default_delta() -> f64 {
    1e-9
}

fn default_clip_norm() -> f64 {
    1.0
}

impl PrivacyConfig {
    /// Whether `column`'s domain is declared public.
    pub fn is_public(&self, column: &str) -> bool {
        self.public.iter().any(|c| c == "*" || c == column)
    }
}

impl Validate for PrivacyConfig {
    type Context = ();

    fn check(&self, _: &()) -> Result<(), ConfigError> {
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(ConfigError::NotPositive {
                key: "privacy.epsilon",
                value: self.epsilon,
            });
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(ConfigError::OutOfRange {
                key: "privacy.delta",
                range: "(0, 1)",
                value: self.delta,
            });
        }
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return Err(ConfigError::NotPositive {
                key: "privacy.clip_norm",
                value: self.clip_norm,
            });
        }
        Ok(())
    }
}

/// The generator of a private run's noise: the operating system's secure generator (ChaCha12
/// seeded from it), or, with `reproducible_noise`, one seeded from `seed`.
pub fn noise_source(config: &PrivacyConfig, seed: u64) -> StdRng {
    if config.reproducible_noise {
        StdRng::seed_from_u64(seed)
    } else {
        rand::make_rng()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PrivacyConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_and_checks_name_the_key() {
        let c = parse("epsilon = 1.0");
        assert_eq!(c.delta, 1e-9);
        assert!(c.clone().validated(()).is_ok());
        assert!(!c.is_public("age"));
        assert!(parse("epsilon = 1.0\npublic = [\"*\"]").is_public("age"));
        for (text, key) in [
            ("epsilon = 0.0", "privacy.epsilon"),
            ("epsilon = -1.0", "privacy.epsilon"),
            ("epsilon = inf", "privacy.epsilon"),
            ("epsilon = nan", "privacy.epsilon"),
            ("epsilon = 1.0\ndelta = 0.0", "privacy.delta"),
            ("epsilon = 1.0\ndelta = 1.0", "privacy.delta"),
            ("epsilon = 1.0\nclip_norm = 0.0", "privacy.clip_norm"),
        ] {
            let err = parse(text).validated(()).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        assert!(toml::from_str::<PrivacyConfig>("epsilon = 1.0\nepsilom = 2.0").is_err());
    }

    #[test]
    fn noise_is_secure_unless_asked_to_be_reproducible() {
        use rand::RngExt;
        let mut c = parse("epsilon = 1.0");
        let a: u64 = noise_source(&c, 7).random();
        let b: u64 = noise_source(&c, 7).random();
        assert_ne!(a, b, "the same seed must not replay the noise");
        c.reproducible_noise = true;
        let a: u64 = noise_source(&c, 7).random();
        assert_eq!(a, noise_source(&c, 7).random::<u64>());
    }
}
