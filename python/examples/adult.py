import pandas as pd
import synth

adult = pd.read_csv("assets/adult.csv")
train, test = adult.iloc[:20_000], adult.iloc[20_000:]
model = synth.Mixture(seed=7).fit(train)      # seconds; synth.TabularARGN() is the best (a minute)
rows = model.sample(50_000, conditions={"income": ">50K"}, seed=1)
model.save("runs/adult-python", overwrite=True)
report = synth.evaluate(real=train, synthetic=synth.load("runs/adult-python").sample(20_000, seed=1),
                        holdout=test, target="income", html="runs/adult-python-report/")
print(report["quality"]["overall"], report["utility"]["synthetic"]["roc_auc"], len(rows))
