//! Settings checked once: a model's `[model]` section is deserialised unchecked, then
//! [`Validate::validated`] checks it against what it is used with (the batch size, the image
//! size) and returns a [`Valid`], the only form trainers and samplers accept (the unchecked ->
//! validated parameters of linfa). Failures are typed [`ConfigError`]s naming the key.

use std::ops::Deref;

/// A setting that fails its check; every variant names the key (`model.tau`, ...).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A count or size that must be at least 1 (every entry, for a list).
    #[error("{key} must be at least 1")]
    NotPositiveCount {
        /// The key.
        key: &'static str,
    },
    /// A number that must be finite and above zero.
    #[error("{key} must be positive (got {value})")]
    NotPositive {
        /// The key.
        key: &'static str,
        /// The value given.
        value: f64,
    },
    /// A number outside its allowed range.
    #[error("{key} must be in {range} (got {value})")]
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The allowed range, as written in the README (`[0, 1)`).
        range: &'static str,
        /// The value given.
        value: f64,
    },
    /// A value the model does not support, with what it does.
    #[error("{key} = {value}: {supported}")]
    Unsupported {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is supported.
        supported: String,
    },
}

/// Settings that check themselves against a context.
pub trait Validate: Sized {
    /// What the settings are checked against besides themselves, kept with them once valid.
    type Context;

    /// Checks the settings against `context`.
    fn check(&self, context: &Self::Context) -> Result<(), ConfigError>;

    /// The settings, checked.
    fn validated(self, context: Self::Context) -> Result<Valid<Self>, ConfigError> {
        self.check(&context)?;
        Ok(Valid {
            config: self,
            context,
        })
    }
}

/// Settings that passed [`Validate::check`], with the context they were checked against;
/// read-only, and made only by [`Validate::validated`].
#[derive(Debug, Clone, PartialEq)]
pub struct Valid<C: Validate> {
    config: C,
    context: C::Context,
}

impl<C: Validate> Valid<C> {
    /// The context the settings were checked against.
    pub fn context(&self) -> &C::Context {
        &self.context
    }
}

impl<C: Validate> Deref for Valid<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.config
    }
}

/// [`ConfigError::NotPositive`] unless `value` is finite and above zero.
pub fn positive(key: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::NotPositive { key, value })
    }
}

/// [`ConfigError::OutOfRange`] unless `value` is finite and `ok` (the caller's test of it
/// against `range`, written as in the README: `[0, 1)`).
pub fn in_range(
    key: &'static str,
    range: &'static str,
    value: f64,
    ok: bool,
) -> Result<(), ConfigError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { key, range, value })
    }
}

/// [`ConfigError::OutOfRange`] unless `value` is finite and at least zero.
pub fn non_negative(key: &'static str, value: f64) -> Result<(), ConfigError> {
    in_range(key, "[0, inf)", value, value >= 0.0)
}

/// [`ConfigError::OutOfRange`] unless both of Adam's `betas` are in [0, 1).
pub fn betas(key: &'static str, (first, second): (f64, f64)) -> Result<(), ConfigError> {
    for beta in [first, second] {
        in_range(key, "[0, 1)", beta, (0.0..1.0).contains(&beta))?;
    }
    Ok(())
}

/// [`ConfigError::NotPositiveCount`] if any of `counts` is 0.
pub fn counts(key: &'static str, counts: &[usize]) -> Result<(), ConfigError> {
    if counts.contains(&0) {
        Err(ConfigError::NotPositiveCount { key })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Rate(f64);

    impl Validate for Rate {
        type Context = usize;
        fn check(&self, batch: &usize) -> Result<(), ConfigError> {
            counts("train.batch_size", &[*batch])?;
            positive("model.rate", self.0)
        }
    }

    #[test]
    fn only_checked_settings_become_valid_and_errors_name_the_key() {
        let valid = Rate(0.5).validated(8).unwrap();
        assert_eq!((valid.0, *valid.context()), (0.5, 8));
        assert_eq!(
            Rate(0.5).validated(0).unwrap_err(),
            ConfigError::NotPositiveCount {
                key: "train.batch_size"
            }
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = Rate(bad).validated(8).unwrap_err();
            assert!(
                err.to_string().starts_with("model.rate must be positive"),
                "{err}"
            );
        }
    }

    /// Zero is allowed where only negatives are refused; betas stop short of 1.
    #[test]
    fn non_negative_and_betas_bound_their_ranges() {
        assert!(non_negative("k", 0.0).is_ok() && non_negative("k", 2.5).is_ok());
        for bad in [-1e-9, f64::NAN, f64::INFINITY] {
            assert!(non_negative("k", bad).is_err(), "{bad}");
        }
        assert!(betas("model.betas", (0.0, 0.999)).is_ok());
        assert_eq!(
            betas("model.betas", (0.5, 1.0)).unwrap_err().to_string(),
            "model.betas must be in [0, 1) (got 1)"
        );
        assert!(betas("model.betas", (-0.1, 0.9)).is_err());
    }
}
