//! The privacy budget: rho handed out mechanism by mechanism, recorded, never overspent.

use crate::{PrivacyError, epsilon_of, rho_for};
use serde::{Deserialize, Serialize};

/// One use of the budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// What was measured or chosen (`"1-way marginals"`, `"domain of age"`, ...).
    pub what: String,
    /// The mechanism: `gaussian` or `exponential`.
    pub mechanism: String,
    /// How many measurements or selections the spend covers.
    pub count: usize,
    /// The rho of all of them together.
    pub rho: f64,
    /// The Gaussian noise's standard deviation, or the exponential mechanism's epsilon per
    /// selection.
    pub scale: f64,
}

/// A privacy budget in zCDP, from the user's `(epsilon, delta)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// The epsilon asked for.
    pub epsilon: f64,
    /// The delta asked for (of which `selection_delta` goes to partition selection).
    pub delta: f64,
    /// The part of delta spent by private partition selection (released categories).
    pub selection_delta: f64,
    /// The rho available: the largest whose conversion at `delta - selection_delta` is
    /// at most `epsilon`.
    pub rho: f64,
    /// Every spend, in order.
    pub spends: Vec<Spend>,
}

impl Budget {
    /// The budget of `(epsilon, delta)`, keeping `selection_delta` of delta for partition
    /// selection (0 without it).
    pub fn new(epsilon: f64, delta: f64, selection_delta: f64) -> Self {
        Budget {
            epsilon,
            delta,
            selection_delta,
            rho: rho_for(epsilon, delta - selection_delta),
            spends: Vec::new(),
        }
    }

    /// The rho spent so far.
    pub fn spent(&self) -> f64 {
        self.spends.iter().map(|s| s.rho).sum()
    }

    /// The rho left.
    pub fn left(&self) -> f64 {
        (self.rho - self.spent()).max(0.0)
    }

    /// The epsilon of what has been spent (at the same delta).
    pub fn epsilon_spent(&self) -> f64 {
        epsilon_of(self.spent(), self.delta - self.selection_delta)
    }

    /// Records `spend`, or refuses it when it would take more than is left (beyond a
    /// relative rounding slack of 1e-9).
    pub fn spend(&mut self, spend: Spend) -> Result<(), PrivacyError> {
        if spend.rho > self.left() * (1.0 + 1e-9) {
            return Err(PrivacyError::Overspent {
                what: spend.what,
                asked: spend.rho,
                left: self.left(),
                total: self.rho,
            });
        }
        self.spends.push(spend);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(what: &str, rho: f64) -> Spend {
        Spend {
            what: what.into(),
            mechanism: "gaussian".into(),
            count: 1,
            rho,
            scale: 1.0,
        }
    }

    #[test]
    fn a_budget_is_spent_up_to_its_rho_and_no_further() {
        let mut b = Budget::new(1.0, 1e-9, 0.0);
        let third = b.rho / 3.0;
        for what in ["a", "b", "c"] {
            b.spend(spend(what, third)).unwrap();
        }
        assert!(
            (b.epsilon_spent() - 1.0).abs() < 1e-6,
            "{}",
            b.epsilon_spent()
        );
        let err = b.spend(spend("d", 1e-6)).unwrap_err().to_string();
        assert!(
            err.contains("d needs rho") && err.contains("privacy.epsilon"),
            "{err}"
        );
        assert_eq!(b.spends.len(), 3);
        // half spent: less than half the epsilon? no: epsilon grows like sqrt(rho), so more
        let mut half = Budget::new(1.0, 1e-9, 0.0);
        half.spend(spend("a", half.rho / 2.0)).unwrap();
        assert!(half.epsilon_spent() > 0.5 && half.epsilon_spent() < 1.0);
    }
}
