"""
Console autocomplete: a small character-level GPT trained on the commands typed at our machine
tools' consoles.

The console has 16 commands; a session is a stream of them separated by spaces. The model predicts
the next character at every position, with its output layer tied to the token embedding as in GPT-2.
As in our large-scale trainer, the model is built on the meta device and materialised on the target.
The weights are exported for the console runtime, which stores the tied matrix once.
Shapes: N windows, B batch, T positions, C channels, V characters, nh heads of size hs.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_commands = 16      # distinct console commands
block_size = 24      # characters per training window
n_layer = 1          # transformer blocks
n_head = 2           # attention heads
n_embd = 32          # model width
batch_size = 32      # windows per optimizer step
max_steps = 200      # optimizer steps
learning_rate = 1e-2 # AdamW learning rate
weight_decay = 1e-2  # AdamW weight decay
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"

alphabet = " abcdefghijklmnopqrstuvwxyz"  # character 0 separates the commands
vocab_size = len(alphabet)


# -----------------------------------------------------------------------------
# data: streams of commands separated by spaces
def make_data(n, split_seed):
    g_task = torch.Generator().manual_seed(1234)
    lengths = torch.randint(3, 7, (n_commands,), generator=g_task)                    # (n_commands,)
    spelled = torch.randint(1, vocab_size, (n_commands, 7), generator=g_task)         # letters, then padding
    spelled[torch.arange(7) >= lengths[:, None]] = 0                                  # a space ends each command
    g = torch.Generator().manual_seed(split_seed)
    picks = torch.randint(0, n_commands, (n * block_size // 4,), generator=g)         # enough commands for n windows
    keep = torch.arange(7) <= lengths[picks, None]                                    # each command and one space
    stream = spelled[picks][keep]                                                     # (L,) one long session
    data = stream[: n * (block_size + 1)].view(n, block_size + 1)                     # (N, T+1)
    return data[:, :-1].contiguous(), data[:, 1:].contiguous()                        # inputs, targets: (N, T)


x_train, y_train = (t.to(device) for t in make_data(4096, split_seed=1))
x_val, y_val = (t.to(device) for t in make_data(1024, split_seed=2))


# -----------------------------------------------------------------------------
# model
class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        assert n_embd % n_head == 0, "n_embd must be divisible by n_head"
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):  # x: (B, T, C)
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(n_embd, dim=2)                              # 3 x (B, T, C)
        q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)               # (B, nh, T, hs)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))                     # (B, T, C)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):  # x: (B, T, C)
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ConsoleGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList([Block() for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # weight tying, as in GPT-2

    def init_weights(self):
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.LayerNorm):
                module.reset_parameters()

    def forward(self, idx):  # idx: (B, T)
        T = idx.size(1)
        assert T <= block_size, f"sequence of length {T} is longer than block_size {block_size}"
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))                                          # (B, T, V)


with torch.device("meta"):  # no memory yet: the weights are materialised where they will train
    model = ConsoleGPT()
model.to_empty(device=device)
model.init_weights()
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(m, x, y):
    """Share of next characters predicted right."""
    m.eval()
    acc = (m(x).argmax(dim=-1) == y).float().mean().item()
    m.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(x_train), (batch_size,), device=device)          # (B,)
    xb, yb = x_train[idx], y_train[idx]                                          # (B, T), (B, T)
    logits = model(xb)                                                           # (B, T, V)
    loss = F.cross_entropy(logits.view(-1, vocab_size), yb.view(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val accuracy (trained model) {accuracy(model, x_val, y_val):.3f}")

# export for the console runtime: it ties the output layer to the token embedding itself, so the
# shared matrix is stored once; then score the validation set the way the runtime does, on the CPU
exported = {name: t.detach().cpu() for name, t in model.state_dict().items() if name != "lm_head.weight"}
console = ConsoleGPT()
missing, unexpected = console.load_state_dict(exported, strict=False)
assert missing == ["lm_head.weight"] and not unexpected, f"unexpected checkpoint layout: {missing}, {unexpected}"
print(f"val accuracy (console)       {accuracy(console, x_val.cpu(), y_val.cpu()):.3f}")
