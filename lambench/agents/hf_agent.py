"""``hf:PATH`` — a local ``transformers`` causal LM (a checkpoint directory, or a ``.gguf`` file), or a
vision-language model (a checkpoint directory with a processor: ``AutoProcessor`` + ``AutoModelForImageTextToText``),
which in the image observation modes gets the screenshot through its processor.

The prompt goes through the tokenizer's chat template with ``tools=`` (the environment's tool
definitions) when the template supports tools, otherwise the JSON-in-text protocol; the output is
read in any of the common tool-call formats (:mod:`lambench.agents.toolcalls`).  Nothing is ever
downloaded: ``PATH`` must be on disk.

Options besides those of :class:`~lambench.agents.llm.ChatAgent`: ``device`` (``cpu``, ``cuda``,
``cuda:1``, ``auto``; default cuda when available), ``dtype`` (``auto``, ``float32``, ``float16``,
``bfloat16``), ``context_tokens`` (budget of the user turn in tokens, 4096).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from lambench.agents.clients import missing_extra
from lambench.agents.llm import ChatAgent, Completion, ContextOverflow

__all__ = ["HFAgent"]

_MODELS: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}
_LOCK = threading.Lock()


def _is_vlm(path: Path) -> bool:
    return path.is_dir() and any((path / f).exists() for f in ("preprocessor_config.json", "processor_config.json"))


def _load(path: Path, device: str, dtype: str) -> tuple[Any, Any, Any]:
    """Model, tokenizer and (vision-language checkpoints) processor, loaded once per process."""
    key = (str(path), device, dtype)
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise missing_extra("transformers", "hf") from None
        kwargs: dict[str, Any] = {"local_files_only": True}
        if path.is_file():  # a GGUF file: transformers dequantises it (needs the gguf package)
            if path.suffix != ".gguf":
                raise ValueError(f"hf:{path}: give a checkpoint directory or a .gguf file")
            kwargs["gguf_file"] = path.name
            where = str(path.parent)
        else:
            where = str(path)
        torch_dtype = {"auto": "auto", "float32": torch.float32, "float16": torch.float16,
                       "bfloat16": torch.bfloat16}.get(dtype)
        if torch_dtype is None:
            raise ValueError(f"dtype must be auto, float32, float16 or bfloat16, not {dtype!r}")
        processor = None
        try:
            if _is_vlm(path):
                from transformers import AutoModelForImageTextToText, AutoProcessor

                processor = AutoProcessor.from_pretrained(where, **kwargs)
                tok = processor.tokenizer
                if not getattr(tok, "chat_template", None) and getattr(processor, "chat_template", None):
                    tok.chat_template = processor.chat_template
                model = AutoModelForImageTextToText.from_pretrained(where, dtype=torch_dtype, **kwargs)
            else:
                tok = AutoTokenizer.from_pretrained(where, **kwargs)
                model = AutoModelForCausalLM.from_pretrained(where, dtype=torch_dtype, **kwargs)
        except ImportError as exc:  # e.g. gguf missing
            raise ImportError(f"hf:{path}: {exc} (pip install 'lambench[hf]' gguf accelerate)") from None
        except (OSError, ValueError) as exc:
            what = "a vision-language model" if processor is not None or _is_vlm(path) else "a causal LM"
            raise ValueError(f"hf:{path}: cannot load {what} from it ({exc})") from None
        model.to(device)
        model.eval()
        _MODELS[key] = (model, tok, processor)
        return model, tok, processor


class HFAgent(ChatAgent):
    provider = "hf"

    def __init__(self, model: str, *, device: str | None = None, dtype: str = "auto", context_tokens: int = 4096,
                 **options: Any):
        path = Path(os.path.expanduser(model))
        if not path.exists():
            raise ValueError(f"hf:{model}: no such checkpoint directory or .gguf file (nothing is downloaded; "
                             "give a local path)")
        super().__init__(str(path), **options)
        try:
            import torch
        except ImportError:
            raise missing_extra("torch", "hf") from None
        if device in (None, "auto"):
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.hf_model, self.tokenizer, self.processor = _load(path, device, dtype)
        self._images: list[Any] = []
        if self.tokenizer.pad_token_id is None and self.tokenizer.eos_token_id is not None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.context_tokens = int(context_tokens)
        self.dtype = dtype
        self._tools_in_template: bool | None = None
        self._fold = False

    @property
    def _budget(self) -> int:
        return self.context_tokens

    def _count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _json_mode(self) -> bool:
        return super()._json_mode() or self._tools_in_template is False

    def _render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Any:
        return self.tokenizer.apply_chat_template(messages, tools=tools or None, add_generation_prompt=True,
                                                  return_tensors="pt", return_dict=True)["input_ids"]

    @staticmethod
    def _fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """For templates without a system role: the system text opens the first user turn."""
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        rest = [dict(m) for m in messages if m["role"] != "system"]
        if system and rest and rest[0]["role"] == "user":
            rest[0]["content"] = system + "\n\n" + rest[0]["content"]
        elif system:
            rest.insert(0, {"role": "user", "content": system})
        return rest

    def _prompt_ids(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Any:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            if self._fold:
                messages = self._fold_system(messages)
            try:
                return self._render(messages, tools)
            except Exception:
                if self._fold:
                    raise
                self._fold = True  # e.g. "System role not supported"
                return self._render(self._fold_system(messages), tools)
        text = "\n\n".join(f"{m['role'].upper()}: {m['content']}" for m in messages) + "\n\nASSISTANT: "
        return tok(text, return_tensors="pt")["input_ids"]

    def _probe_tools(self) -> bool:
        """Does the chat template show the tools? (Rendering must work with them, and differ without them.)"""
        probe = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
        try:
            with_tools = self._prompt_ids(probe, self.tools)
            without = self._prompt_ids(probe, None)
        except Exception:
            return False
        return with_tools.shape != without.shape or bool((with_tools != without).any())

    def act(self, observation: Any) -> Any:
        if not getattr(self.tokenizer, "chat_template", None):
            self._tools_in_template = False  # a plain prompt: tools are described in text
        elif self._tools_in_template is None and self.tools and self.protocol != "json":
            self._tools_in_template = self._probe_tools()
        return super().act(observation)

    def _cache_identity(self) -> dict[str, Any]:
        return {"endpoint": "local", "dtype": self.dtype, "device": self.device}

    def _image_part(self, image: Any) -> dict[str, Any]:
        if self.processor is None:
            raise ValueError(f"hf:{self.model} is a text-only checkpoint (no image processor): run it with "
                             "--observation text, or give a vision-language checkpoint (with its processor files)")
        import hashlib

        self._images = [image]  # the processor takes the pixels; the message names them by content (cache key)
        return {"type": "image", "sha256": hashlib.sha256(image.tobytes()).hexdigest()[:32]}

    def messages(self, observation: Any) -> list[dict[str, Any]]:
        self._images = []
        msgs = super().messages(observation)
        for m in msgs:  # the image first, then the text: the order vision-language chat templates expect
            if isinstance(m["content"], list):
                m["content"] = sorted(m["content"], key=lambda part: part["type"] != "image")
        return msgs

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Completion:
        import torch

        extra: dict[str, Any] = {}
        if self._images:  # a vision-language model: its processor puts the image's tokens in
            text = self.processor.apply_chat_template(messages, tools=tools or None, add_generation_prompt=True,
                                                      tokenize=False)
            inputs = self.processor(images=self._images, text=text, return_tensors="pt")
            ids = inputs.pop("input_ids").to(self.device)
            extra = {k: v.to(self.device) for k, v in inputs.items() if k != "attention_mask"}
        else:
            ids = self._prompt_ids(messages, tools).to(self.device)
        limit = getattr(self.hf_model.config, "max_position_embeddings", None)
        if isinstance(limit, int) and ids.shape[1] + self.params["max_tokens"] > limit:
            raise ContextOverflow(f"{ids.shape[1]} prompt tokens + {self.params['max_tokens']} new > {limit}")
        gen: dict[str, Any] = {"max_new_tokens": self.params["max_tokens"],
                               "pad_token_id": self.tokenizer.pad_token_id}
        if self.params["temperature"] > 0:
            gen.update(do_sample=True, temperature=self.params["temperature"])
            if "top_p" in self.params:
                gen["top_p"] = self.params["top_p"]
            torch.manual_seed(self.seed)
        else:
            gen["do_sample"] = False
        with torch.no_grad():
            out = self.hf_model.generate(ids, attention_mask=torch.ones_like(ids), **extra, **gen)
        new = out[0, ids.shape[1]:]
        text = self.tokenizer.decode(new, skip_special_tokens=False)
        return Completion(text=text, tokens_in=int(ids.shape[1]), tokens_out=int(new.shape[0]))
