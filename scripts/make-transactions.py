#!/usr/bin/env python3
"""Writes a synthetic card-transactions table with the columns real tables carry: a text key,
timestamps, dates and times of day as text, two-decimal amounts, integers, categories, a rare
fraud flag, and missing values in most columns. Standard library only; the same --seed gives
the same file.

  python3 scripts/make-transactions.py --rows 1000000 -o /tmp/tx-1m.csv
  python3 scripts/make-transactions.py --rows 1200 --seed 5 -o tests/fixtures/transactions.csv

Columns (15): tx_id (TX + 7 digits, unique), customer (C001..C200, skewed), ts
(%Y-%m-%d %H:%M:%S, 2024), date (settlement day, %Y-%m-%d, 0-3 days after ts), local_time
(%H:%M), amount (log-normal, 2 decimals), balance (2 decimals), age (18-90), items (1-9),
channel, merchant, country, card, device (categories), is_fraud (0/1, about 2%).
"""

import argparse
import csv
import datetime as dt
import math
import random

CHANNELS = ["web", "shop", "phone", "app"]
MERCHANTS = ["grocery", "fuel", "travel", "dining", "electronics", "fashion", "health",
             "utilities", "gaming", "services", "home", "books"]
COUNTRIES = ["FR", "DE", "ES", "IT", "NL", "BE", "PT", "GB", "US", "PL", "SE", "IE", "AT"]
CARDS = ["debit", "credit", "prepaid", "business"]
DEVICES = ["mobile", "desktop", "terminal"]
START = dt.datetime(2024, 1, 1)


def maybe(rng, share, value):
    """The value, or missing (an empty CSV field) with probability `share`."""
    return "" if rng.random() < share else value


def row(rng, i):
    fraud = rng.random() < 0.02
    customer = min(int(rng.paretovariate(1.2)), 200)
    ts = START + dt.timedelta(seconds=rng.randrange(366 * 86400))
    if fraud:  # fraud clusters at night and online
        ts = ts.replace(hour=rng.choice([0, 1, 2, 3, 4, 23]))
    settled = ts.date() + dt.timedelta(days=rng.choice([0, 1, 1, 2, 3]))
    scale = 4.5 if fraud else 3.3
    amount = round(min(math.exp(rng.gauss(scale, 0.9)), 25000.0), 2)
    channel = rng.choice(["web", "app"]) if fraud else rng.choices(CHANNELS, [4, 5, 1, 3])[0]
    return [
        f"TX{1_000_000 + i:07d}",
        f"C{customer:03d}",
        maybe(rng, 0.03, ts.strftime("%Y-%m-%d %H:%M:%S")),
        maybe(rng, 0.02, settled.strftime("%Y-%m-%d")),
        maybe(rng, 0.05, ts.strftime("%H:%M")),
        maybe(rng, 0.01, f"{amount:.2f}"),
        f"{round(rng.uniform(-500, 9000), 2):.2f}",
        maybe(rng, 0.04, str(min(90, max(18, int(rng.gauss(42, 14)))))),
        str(rng.choices(range(1, 10), [30, 20, 14, 10, 8, 6, 5, 4, 3])[0]),
        maybe(rng, 0.02, channel),
        rng.choice(MERCHANTS),
        maybe(rng, 0.01, rng.choices(COUNTRIES, [9, 8, 6, 5, 4, 3, 2, 2, 2, 1, 1, 1, 1])[0]),
        rng.choices(CARDS, [6, 5, 1, 1])[0],
        rng.choice(DEVICES),
        "1" if fraud else "0",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["tx_id", "customer", "ts", "date", "local_time", "amount", "balance",
                      "age", "items", "channel", "merchant", "country", "card", "device",
                      "is_fraud"])
        for i in range(args.rows):
            out.writerow(row(rng, i))


if __name__ == "__main__":
    main()
