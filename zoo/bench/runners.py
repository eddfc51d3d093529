"""One timed training or inference step of a benchmark subject, whatever its framework.

A runner holds a built subject, its batch and its optimizer: ``train()`` runs one
training step, ``infer()`` one inference batch, each ending by copying a result to the
host (so queued device work is inside the timing); ``params`` and ``gflops_per_image``
(forward FLOPs, multiply-add = 2) describe the network. Keras subjects (zoo models on any
backend, segmentation-models, keras-unet-collection) train with ``train_on_batch`` (Adam,
binary cross-entropy on the sigmoid map); PyTorch peers (segmentation_models_pytorch,
MONAI) with the equivalent eager loop (Adam, ``BCEWithLogitsLoss`` on their logits;
``torch.autocast`` and a gradient scaler for the mixed precisions, as torch AMP does).
"""

from __future__ import annotations

import numpy as np

from . import subjects


def random_batch(batch: int, shape, seed: int = 0):
    """Images in [0, 1] of ``shape`` (per image) and binary targets, float32."""
    rng = np.random.default_rng(seed)
    return (rng.random((batch, *shape), dtype=np.float32),
            (rng.random((batch, *shape[:-1], 1)) > 0.5).astype("float32"))


class KerasRunner:
    framework = "keras"

    def __init__(self, model, batch: int, infer_batch: int | None = None, seed: int = 0,
                 jit_compile="auto"):
        import keras

        from ..flops import count_flops

        loss = ["binary_crossentropy"] * len(model.outputs)
        model.compile(keras.optimizers.Adam(1e-4), loss=loss if len(loss) > 1 else loss[0],
                      jit_compile=jit_compile)
        self.model = model
        self.x = random_batch(batch, model.input_shape[1:], seed)[0]
        out = model.outputs[0].shape
        y = random_batch(batch, (*out[1:3], 1), seed)[1]
        self.y = [y] * len(model.outputs) if len(model.outputs) > 1 else y
        self.x_infer = random_batch(infer_batch or batch, model.input_shape[1:], seed)[0]
        self.params = model.count_params()
        self.gflops_per_image = count_flops(model) / 1e9

    @staticmethod
    def _sync(result):
        import keras

        first = result[0] if isinstance(result, (list, tuple)) else result
        if isinstance(first, dict):
            first = next(iter(first.values()))
        keras.ops.convert_to_numpy(first)

    def train(self):
        self._sync(self.model.train_on_batch(self.x, self.y))

    def infer(self):
        self._sync(self.model.predict_on_batch(self.x_infer))

    def fit(self, images, masks, *, batch: int, steps: int, workers: int = 2) -> dict:
        from .measure import fit_loop

        return fit_loop(self.model, images, masks, batch=batch, steps=steps, workers=workers)


class TorchRunner:
    framework = "torch"

    def __init__(self, module, batch: int, size: int, channels: int = 1,
                 infer_batch: int | None = None, precision: str = "float32", seed: int = 0):
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        torch.manual_seed(seed)
        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.module = module.to(self.device)
        x, y = random_batch(batch, (size, size, channels), seed)
        self.x, self.y = self._tensor(x), self._tensor(y)
        self.x_infer = self._tensor(random_batch(infer_batch or batch,
                                                 (size, size, channels), seed)[0])
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=1e-4)
        self.loss = torch.nn.BCEWithLogitsLoss()
        self.dtype = {"mixed_float16": torch.float16,
                      "mixed_bfloat16": torch.bfloat16}.get(precision)
        self.scaler = torch.amp.GradScaler(self.device, enabled=self.dtype == torch.float16)
        self.params = sum(p.numel() for p in self.module.parameters())
        self.module.eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            self.module(self.x_infer[:1])
        self.gflops_per_image = counter.get_total_flops() / 1e9
        self.threads = torch.get_num_threads()

    def _tensor(self, array):
        return self.torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2))).to(
            self.device)

    def _autocast(self):
        return self.torch.autocast(self.device, dtype=self.dtype,
                                   enabled=self.dtype is not None)

    def _forward(self, x):
        out = self.module(x)  # MONAI's BasicUNetPlusPlus returns a list, the full map last
        return out[-1] if isinstance(out, (list, tuple)) else out

    def _step(self, x, y) -> float:
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.loss(self._forward(x).float(), y)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.item()

    def train(self):
        self._step(self.x, self.y)

    def infer(self):
        self.module.eval()
        with self.torch.inference_mode(), self._autocast():
            self._forward(self.x_infer).float().sum().item()

    def fit(self, images, masks, *, batch: int, steps: int, workers: int = 2) -> dict:
        """The training loop a PyTorch user writes over the same batches as the Keras fit
        loop (:class:`zoo.data.SegmentationDataset`, the paper's augmentation), prepared
        ahead by ``workers`` threads; two epochs of ``steps``, the second measured."""
        import time
        from concurrent.futures import ThreadPoolExecutor

        from ..data import SegmentationDataset, paper_augmentation
        from .measure import summary

        size = self.x.shape[-1]
        dataset = SegmentationDataset(images, masks, patch_size=size, batch_size=batch,
                                      steps=steps, augment=paper_augmentation(), seed=0)
        with ThreadPoolExecutor(max(workers, 1)) as pool:
            for _ in range(2):
                batches = pool.map(dataset.__getitem__, range(steps))
                start = last = time.perf_counter()
                intervals = []
                for x, y, *_ in batches:
                    y = np.asarray(y, np.float32)
                    y = y if y.ndim == 4 else y[..., None]
                    self._step(self._tensor(np.asarray(x, np.float32)), self._tensor(y))
                    now = time.perf_counter()
                    intervals.append(now - last)
                    last = now
                dataset.on_epoch_end()
        result = summary(intervals, batch)
        result["epoch_img_per_s"] = batch * steps / (time.perf_counter() - start)
        return result


def make_runner(subject: str, spec: dict, *, batch: int | None = None):
    """The runner of ``subject`` at ``spec``'s size, batch and precision."""
    batch = batch or spec["batch"]
    infer_batch = spec.get("infer_batch", batch)
    model = subjects.build(subject, spec["size"], options=spec.get("options"))
    if subjects.framework(subject) == "torch":
        return TorchRunner(model, batch, spec["size"], infer_batch=infer_batch,
                           precision=spec["precision"], seed=spec.get("seed", 0))
    return KerasRunner(model, batch, infer_batch, seed=spec.get("seed", 0))
