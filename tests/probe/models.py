"""Models written the way people write them (not in this project's style)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class CharLM(nn.Module):
    def __init__(self, vocab=12, emb=8, hidden=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden, vocab)

    def forward(self, x, hidden=None):
        out, hidden = self.lstm(self.embed(x), hidden)
        return self.fc(out), hidden


def lm_loss(output, targets):
    logits, _ = output
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                           reduction="none").view(targets.shape)


class Tagger(nn.Module):
    """Bidirectional GRU tagger, time-major, packed."""

    def __init__(self, vocab=20, emb=6, hidden=8, tags=5):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.encoder = nn.Module()
        self.encoder.rnn = nn.GRU(emb, hidden, bidirectional=True)
        self.out = nn.Linear(2 * hidden, tags)

    def forward(self, tokens, lengths):          # tokens (T, B)
        packed = pack_padded_sequence(self.emb(tokens), lengths, enforce_sorted=False)
        out, _ = self.encoder.rnn(packed)
        out, _ = pad_packed_sequence(out)         # (T, B, 2H)
        return self.out(out)


def tagger_loss(logits, gold):                     # gold (T, B), -100 = padding
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), gold.view(-1), ignore_index=-100)


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab=10, tgt_vocab=9, d=16, heads=2):
        super().__init__()
        self.src_emb = nn.Embedding(src_vocab, d)
        self.tgt_emb = nn.Embedding(tgt_vocab, d)
        self.enc = nn.GRU(d, d, batch_first=True)
        self.dec = nn.GRU(d, d, batch_first=True)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.proj = nn.Linear(2 * d, tgt_vocab)

    def forward(self, src, tgt):
        enc_out, h = self.enc(self.src_emb(src))
        dec_out, _ = self.dec(self.tgt_emb(tgt), h)
        ctx, _ = self.attn(dec_out, enc_out, enc_out)
        return self.proj(torch.cat([dec_out, ctx], dim=-1))


def seq2seq_loss(logits, y):
    return F.cross_entropy(logits.transpose(1, 2), y)


class Regressor(nn.Module):
    def __init__(self, n_in=3, hidden=10):
        super().__init__()
        self.rnn = nn.RNN(n_in, hidden, nonlinearity="relu", batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, h0):
        out, _ = self.rnn(x, h0)
        return self.head(out[:, -1])              # predict from the last step


class Siamese(nn.Module):
    def __init__(self, n_in=4, hidden=6):
        super().__init__()
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)

    def forward(self, a, b):
        _, (ha, _) = self.lstm(a)
        _, (hb, _) = self.lstm(b)
        return F.cosine_similarity(ha[-1], hb[-1])


class TinyTransformer(nn.Module):
    def __init__(self, n_in=5, d=8, heads=2, classes=3):
        super().__init__()
        self.inp = nn.Linear(n_in, d)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=16, dropout=0.1,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.cls = nn.Linear(d, classes)

    def forward(self, x):
        T = x.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(T)
        return self.cls(self.encoder(self.inp(x), mask=mask))
