"""`import zoo` and building a model stay light: the data tools load on first use."""

import json
import os
import subprocess
import sys

# What Keras itself may import (cv2, scipy and matplotlib when installed) is not zoo's doing;
# these zoo must not add to `import zoo` + build + compile.
HEAVY = ("albumentations", "cv2", "scipy", "skimage", "tifffile")
PROBE = """
import json, sys
import keras
before = set(sys.modules)
import zoo
model = zoo.build("unet", encoder_options={"filters": 4}, depth=2)
model.compile("adam", loss=zoo.losses.DiceLoss(), metrics=[zoo.metrics.IoU()])
added = set(sys.modules) - before
print(json.dumps(sorted(m for m in added if m.split(".")[0] in HEAVY)))
""".replace("HEAVY", repr(HEAVY))


def _last_line(code: str, env: dict) -> list:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_and_build_do_not_load_the_data_tools():
    assert _last_line(PROBE, {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}) == []


def test_data_tools_load_on_first_use_and_never_ask_the_network():
    code = ("import json, os, sys, zoo\n"
            "zoo.data.unet_weight_map\n"
            "after_weight_map = 'albumentations' in sys.modules\n"
            "zoo.data.paper_augmentation\n"
            "print(json.dumps([after_weight_map, 'albumentations' in sys.modules,\n"
            "                  os.environ.get('NO_ALBUMENTATIONS_UPDATE')]))")
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    assert _last_line(code, env) == [False, True, "1"]
