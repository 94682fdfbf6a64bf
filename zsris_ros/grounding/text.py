"""
CLIP text features t = r * s + (1 - r) * n, with an LRU cache per string.

Robots hear the same few commands again and again, so encoding a string once is the
cheapest speed-up there is.
"""

from collections import OrderedDict
from threading import Lock

import torch

from .models import ClipModel


class TextEncoder:
    """Encodes lower-cased text with the CLIP text tower, caching results by string."""

    def __init__(self, clip: ClipModel, device: torch.device, cache_size: int = 256) -> None:
        self.clip = clip
        self.device = device
        self.cache_size = cache_size
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = Lock()

    def encode(self, text: str) -> torch.Tensor:
        """Raw (un-normalised) CLIP text feature of one string, shape (D,)."""
        key = text.lower()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        tokens = self.clip.tokenizer([key]).to(self.device)
        feature = self.clip.model.encode_text(tokens)[0]
        with self._lock:
            self._cache[key] = feature
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return feature

    def mix(self, sentence: str, noun_phrase: str, r: float) -> torch.Tensor:
        """Mix the paper's text feature from the sentence and target noun phrase, weighted by r."""
        return r * self.encode(sentence) + (1.0 - r) * self.encode(noun_phrase)
