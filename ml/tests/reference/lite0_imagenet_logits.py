"""Logits of the PyTorch EfficientNet-Lite0 package on the picture `ml/tests/pretrained.rs` draws
from a formula, for the weights test there (stated once in the test; the Rust side must match them
within 1e-3).

    python3 -m venv /tmp/torch-venv
    /tmp/torch-venv/bin/pip install torch efficientnet-lite-pytorch==0.1.0
    /tmp/torch-venv/bin/python ml/tests/reference/lite0_imagenet_logits.py .cache/pretrained/efficientnet-lite0.pth

Printed: the formula's checksum, then the logits of the classes the test compares, as Rust.
"""
import math
import sys

import torch
from efficientnet_lite_pytorch import EfficientNet

SIDE = 224
# Every 50th ImageNet class, plus the five largest logits (found below).
PROBED = list(range(0, 1000, 50))


def formula_picture():
    """Three planes in [-1, 1]: slow stripes, a disc and a checker, different per channel, so the
    padding, strides and every channel of the stem matter. Kept in step with `formula_picture` in
    ml/tests/pretrained.rs."""
    values = torch.empty(3, SIDE, SIDE, dtype=torch.float64)
    for c in range(3):
        for y in range(SIDE):
            for x in range(SIDE):
                stripes = math.sin(0.11 * x * (c + 1) + 0.07 * y)
                radius = math.hypot(x - 90 - 20 * c, y - 130)
                disc = 1.0 if radius < 40 else -0.5
                checker = 1.0 if ((x // 16) + (y // 16) + c) % 2 == 0 else -1.0
                values[c, y, x] = 0.5 * stripes + 0.3 * disc + 0.2 * checker
    return values.float().unsqueeze(0)


def main():
    torch.set_num_threads(2)
    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(sys.argv[1], map_location="cpu")
    net.load_state_dict(state)
    net.eval()
    picture = formula_picture()
    with torch.no_grad():
        logits = net(picture)[0].double()
    top = torch.argsort(logits, descending=True)[:5].tolist()
    print(f"// picture sum {picture.double().sum().item():.6f}")
    print("const REFERENCE_LOGITS: [(usize, f32); %d] = [" % (len(PROBED) + len(top)))
    for index in PROBED + top:
        print(f"    ({index}, {logits[index].item():.6f}),")
    print("];")


if __name__ == "__main__":
    main()
