"""EfficientNet-Lite0 in the engines a user would pick instead of ours, timed the way
`ml/examples/lite0_profile.rs` times ours: batch-1 forward p50 over 200 runs (2 threads, 160 px,
1-channel input, f32) in PyTorch eager and in ONNX Runtime (the same PyTorch model exported to
ONNX), and batch-32 training images/s in PyTorch (forward, cross-entropy, backward, AdamW step).

Run through `bash bench/lite0-engines.sh`, which makes the throw-away virtual environment.
"""
import os
import sys
import tempfile
import time

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet

SIDE = int(os.environ.get("SIDE", 160))
BATCH = int(os.environ.get("BATCH", 32))
THREADS = int(os.environ.get("THREADS", 2))
RUNS = 200

torch.set_num_threads(THREADS)
torch.manual_seed(0)


def model():
    net = EfficientNet.from_name("efficientnet-lite0", num_classes=4, in_channels=1)
    return net


def p50(step, runs=RUNS):
    step()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1e3)
    return float(np.median(times))


def main():
    net = model().eval()
    image = torch.rand(1, 1, SIDE, SIDE) * 2 - 1
    with torch.inference_mode():
        torch_ms = p50(lambda: net(image))

    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "lite0.onnx")
        torch.onnx.export(net, image, path, input_names=["x"], output_names=["y"],
                          opset_version=17, dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        feed = {"x": image.numpy()}
        ort_ms = p50(lambda: session.run(None, feed))

    train = model().train()
    optimizer = torch.optim.AdamW(train.parameters(), lr=6e-4, weight_decay=1e-4)
    images = torch.rand(BATCH, 1, SIDE, SIDE) * 2 - 1
    targets = torch.randint(0, 4, (BATCH,))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(train(images), targets)
        loss.backward()
        optimizer.step()

    step_ms = p50(step, runs=5)
    print(f"onnxruntime {ort.__version__} batch1_p50_ms {ort_ms:.2f}")
    print(f"pytorch {torch.__version__} batch1_p50_ms {torch_ms:.2f}")
    print(f"pytorch {torch.__version__} train_images_per_s {BATCH * 1e3 / step_ms:.1f}")


if __name__ == "__main__":
    sys.exit(main())
