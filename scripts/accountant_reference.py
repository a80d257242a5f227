"""Reference epsilons of DP-SGD from Google's dp-accounting (its RDP accountant), for
synth-privacy's accountant test (crates/synth-privacy/src/rdp.rs pastes this script's output
into its REFERENCE table and checks its own figures against them within 1%). dp-accounting
is used here only, never as a dependency of synth.

    python scripts/accountant_reference.py      # needs `pip install dp-accounting`

Each line: (q, sigma, steps, delta, epsilon), for Poisson sampling at rate q, noise
multiplier sigma, the given steps and delta, with the orders synth uses.
"""

import dp_accounting

ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
CASES = [
    (0.01, 1.0, 1000, 1e-5),
    (0.02, 1.1, 1500, 1e-6),
    (0.02, 0.7, 1500, 1e-6),
    (0.004, 0.9, 10000, 1e-5),
    (0.05, 2.0, 500, 1e-9),
    (0.019, 4.0, 2600, 1e-9),
    (0.1, 1.3, 100, 1e-6),
    (0.001, 0.6, 20000, 1e-5),
]

for q, sigma, steps, delta in CASES:
    accountant = dp_accounting.rdp.RdpAccountant(ORDERS)
    event = dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma))
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, steps))
    print(f"({q}, {sigma}, {steps}, {delta:e}, {accountant.get_epsilon(delta):.6f}),")
