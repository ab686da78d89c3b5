"""MATLAB's "Time Series Forecasting Using Deep Learning", in the MATLAB dialect: an LSTM forecasts a seasonal
series with predictAndUpdateState, in closed loop and in open loop.

MATLAB (the example's code, with minidl's embedded seasonal series in place of chickenpox_dataset)::

    dataTrain = seasonalTrainData;  dataTest = seasonalTestData;        % 1×540 and its continuation, 1×60
    mu = mean(dataTrain);  sig = std(dataTrain);
    dataTrainStandardized = (dataTrain - mu) / sig;
    XTrain = dataTrainStandardized(1:end-1);  YTrain = dataTrainStandardized(2:end);
    layers = [sequenceInputLayer(1)  lstmLayer(100)  fullyConnectedLayer(1)  regressionLayer];
    options = trainingOptions('adam', 'MaxEpochs',300, 'GradientThreshold',1, 'InitialLearnRate',0.005, ...
        'LearnRateSchedule','piecewise', 'LearnRateDropPeriod',150, 'LearnRateDropFactor',0.2, 'Verbose',0);
    net = trainNetwork(XTrain, YTrain, layers, options);
    % closed loop: the state warmed up on the training series, then each forecast fed back as the next input
    net = predictAndUpdateState(net, XTrain);
    [net, YPred] = predictAndUpdateState(net, YTrain(end));
    for i = 2:numTimeStepsTest
        [net, YPred(:,i)] = predictAndUpdateState(net, YPred(:,i-1));
    end
    YPred = sig*YPred + mu;  rmse = sqrt(mean((YPred - dataTest).^2))
    % open loop: the same warm-up, then the observed value of each test step as the next input
    net = resetState(net);  net = predictAndUpdateState(net, XTrain);
    XTest = ([dataTrain(end) dataTest(1:end-1)] - mu) / sig;
    for i = 1:numTimeStepsTest
        [net, YPred(:,i)] = predictAndUpdateState(net, XTest(:,i));
    end

Training is one sequence of 539 steps per epoch (one iteration each). The closed-loop forecast sees nothing of the
test period, so its errors accumulate over the 60 steps; the open-loop one is a one-step-ahead forecast and is
closer. A persistence forecast (each value predicted by the previous one) is printed as the yardstick. A figure of
the two forecasts goes to a new temporary folder (or ``--out``).

Run:  python examples/matlab_sequence_forecast.py [--quick] [--epochs E] [--out FOLDER]
      (--quick or MINIDL_QUICK=1: 20 epochs, hidden size 50)
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from minidl.matlab import (
    fullyConnectedLayer,
    lstmLayer,
    predictAndUpdateState,
    regressionLayer,
    resetState,
    seasonalTestData,
    seasonalTrainData,
    sequenceInputLayer,
    trainingOptions,
    trainNetwork,
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (20 epochs, hidden size 50)")
    parser.add_argument("--epochs", type=int, default=300, help="MaxEpochs (default 300; the rate ×0.2 halfway)")
    parser.add_argument("--out", default=None, help="folder for the forecast PNG (default: a new temporary folder)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="minidl-forecast-")
    epochs, hidden = (20, 50) if args.quick else (args.epochs, 100)

    dataTrain, dataTest = seasonalTrainData().astype(np.float64), seasonalTestData().astype(np.float64)
    mu, sig = dataTrain.mean(), dataTrain.std(ddof=1)          # MATLAB's std: the n − 1 form
    standardized = (dataTrain - mu) / sig
    XTrain, YTrain = standardized[:, :-1], standardized[:, 1:]  # 1×539 each: x(t) → x(t+1)
    numTimeStepsTest = dataTest.shape[1]

    layers = [sequenceInputLayer(1), lstmLayer(hidden), fullyConnectedLayer(1), regressionLayer()]
    options = trainingOptions("adam", "MaxEpochs", epochs, "GradientThreshold", 1, "InitialLearnRate", 0.005,
                              "LearnRateSchedule", "piecewise", "LearnRateDropPeriod", max(1, epochs // 2),
                              "LearnRateDropFactor", 0.2, "Verbose", 0, "Seed", 0)
    net, info = trainNetwork(XTrain, YTrain, layers, options)  # one 1×539 sequence, its 1×539 per-step responses

    # closed loop
    net, _ = predictAndUpdateState(net, XTrain)
    YPred = np.zeros((1, numTimeStepsTest))
    net, y = predictAndUpdateState(net, YTrain[:, -1:])
    YPred[:, 0] = y[:, -1]
    for i in range(1, numTimeStepsTest):
        net, y = predictAndUpdateState(net, YPred[:, i - 1:i])
        YPred[:, i] = y[:, -1]
    closed = sig * YPred + mu
    rmse_closed = float(np.sqrt(np.mean((closed - dataTest) ** 2)))

    # open loop
    net = resetState(net)
    net, _ = predictAndUpdateState(net, XTrain)
    XTest = (np.concatenate([dataTrain[:, -1:], dataTest[:, :-1]], axis=1) - mu) / sig
    YPred = np.zeros((1, numTimeStepsTest))
    for i in range(numTimeStepsTest):
        net, y = predictAndUpdateState(net, XTest[:, i:i + 1])
        YPred[:, i] = y[:, -1]
    opened = sig * YPred + mu
    rmse_open = float(np.sqrt(np.mean((opened - dataTest) ** 2)))
    rmse_persistence = float(np.sqrt(np.mean((XTest * sig + mu - dataTest) ** 2)))

    print(f"{info.StopReason}; final training RMSE {info.TrainingRMSE[-1]:.4f} (standardized)")
    print(f"test RMSE over {numTimeStepsTest} steps: closed loop {rmse_closed:.3f}, open loop {rmse_open:.3f}, "
          f"persistence (x(t+1) = x(t)) {rmse_persistence:.3f}")
    figure = os.path.join(args.out, "forecast.png")
    _plot(dataTrain, dataTest, closed, opened, figure)
    print(f"figure: {figure}")
    return {"net": net, "info": info, "rmse_closed": rmse_closed, "rmse_open": rmse_open,
            "rmse_persistence": rmse_persistence, "closed": closed, "open": opened}


def _plot(train: np.ndarray, test: np.ndarray, closed: np.ndarray, opened: np.ndarray, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = train.shape[1]
    t_test = np.arange(n, n + test.shape[1])
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(np.arange(n - 120, n), train[0, -120:], color="0.4", label="observed (training)")
    ax.plot(t_test, test[0], color="k", label="observed (test)")
    ax.plot(t_test, closed[0], "--", label="closed loop")
    ax.plot(t_test, opened[0], ":", label="open loop")
    ax.set_xlabel("month")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main()
