#!/usr/bin/env python3
"""Token ids of a few strings under a GGUF file's SentencePiece tokenizer, computed by Google's sentencepiece
library itself: the GGUF vocabulary (pieces, scores, types) is written into a SentencePiece BPE model proto with
the normalizer the file asks for (a dummy prefix if tokenizer.ggml.add_space_prefix, spaces escaped to U+2581,
byte fallback). The expected ids of genius-llm's tests/local.rs (Gemma 3 270M) come from it:

    python3 -m venv v && v/bin/pip install gguf==0.19.0 sentencepiece==0.2.3 protobuf
    v/bin/python scripts/spm-reference-ids.py gemma-3-270m-q4_k_m.gguf '["Hello world", "a\nb"]'
"""
import json, sys
from gguf import GGUFReader
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

r = GGUFReader(sys.argv[1])
f = lambda k: r.fields[k].contents()
m = pb.ModelProto()
m.trainer_spec.model_type = pb.TrainerSpec.BPE
m.trainer_spec.byte_fallback = True
m.trainer_spec.vocab_size = len(f('tokenizer.ggml.tokens'))
m.trainer_spec.unk_id = f('tokenizer.ggml.unknown_token_id')
m.trainer_spec.bos_id = f('tokenizer.ggml.bos_token_id')
m.trainer_spec.eos_id = f('tokenizer.ggml.eos_token_id')
m.trainer_spec.pad_id = f('tokenizer.ggml.padding_token_id')
m.normalizer_spec.name = 'identity'
m.normalizer_spec.add_dummy_prefix = bool(f('tokenizer.ggml.add_space_prefix'))
m.normalizer_spec.remove_extra_whitespaces = False
m.normalizer_spec.escape_whitespaces = True
kinds = {1: pb.ModelProto.SentencePiece.NORMAL, 2: pb.ModelProto.SentencePiece.UNKNOWN,
         3: pb.ModelProto.SentencePiece.CONTROL, 4: pb.ModelProto.SentencePiece.USER_DEFINED,
         5: pb.ModelProto.SentencePiece.UNUSED, 6: pb.ModelProto.SentencePiece.BYTE}
for t, s, k in zip(f('tokenizer.ggml.tokens'), f('tokenizer.ggml.scores'), f('tokenizer.ggml.token_type')):
    p = m.pieces.add()
    p.piece, p.score, p.type = t, s, kinds[k]
sp = spm.SentencePieceProcessor(model_proto=m.SerializeToString())
for text in json.loads(sys.argv[2]):
    ids = sp.encode(text)
    assert sp.decode(ids) == text, (text, sp.decode(ids))
    print(json.dumps(text, ensure_ascii=False), ids)
