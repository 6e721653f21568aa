"""Train a GRU to sort support-chat messages (token sequences of varying length) into four intents."""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset

# -----------------------------------------------------------------------------
# config
vocab_size = 64         # token ids 1..63 are words
n_classes = 4           # intents
min_len = 6             # shortest message, in tokens
max_len = 24            # longest message, in tokens
keyword_rate = 0.4      # share of a message's tokens that are its intent's keywords
n_train = 2048          # training messages
n_val = 1024            # validation messages
batch_size = 64         # messages per optimizer step
max_epochs = 3          # passes over the training messages
n_embd = 16             # token embedding width
n_hidden = 32           # GRU hidden width
learning_rate = 1e-2    # AdamW learning rate
weight_decay = 1e-4     # AdamW weight decay
log_interval = 10       # steps between progress lines
task_seed = 1234        # fixes each intent's keywords (the task itself)
seed = 0                # fixes the model init, the messages and the shuffling
pad_id = 0              # token id of padding
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_messages(n, sample_seed):
    """Each intent has 8 keywords; a message mixes them with other words, so short ones are harder."""
    task = torch.Generator().manual_seed(task_seed)
    keywords = torch.randperm(vocab_size - 1, generator=task)[: n_classes * 8].view(n_classes, 8) + 1  # (K, 8)
    g = torch.Generator().manual_seed(sample_seed)
    labels = torch.randint(n_classes, (n,), generator=g)  # (N,)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)  # (N,)
    common = torch.randint(1, vocab_size, (n, max_len), generator=g)  # (N, L)
    keyword = keywords[labels.unsqueeze(1), torch.randint(8, (n, max_len), generator=g)]  # (N, L)
    tokens = torch.where(torch.rand(n, max_len, generator=g) < keyword_rate, keyword, common)  # (N, L)
    return [row[:length] for row, length in zip(tokens, lengths.tolist())], labels


class Messages(Dataset):
    def __init__(self, messages, labels):
        self.messages, self.labels = messages, labels

    def __len__(self):
        return len(self.messages)

    def __getitem__(self, i):
        return self.messages[i], self.labels[i]


def collate(batch):
    """Pad a batch of (tokens, label) pairs, longest message first, as pack_padded_sequence expects."""
    messages, labels = zip(*batch)
    lengths = torch.tensor([len(m) for m in messages])  # (B,)
    lengths, order = lengths.sort(descending=True)
    tokens = pad_sequence(messages, batch_first=True, padding_value=pad_id)[order]  # (B, T)
    return tokens, lengths, torch.stack(labels)


class IntentGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, n_embd, padding_idx=pad_id)
        self.rnn = nn.GRU(n_embd, n_hidden, batch_first=True)
        self.head = nn.Linear(n_hidden, n_classes)

    def forward(self, tokens, lengths):  # tokens: (B, T), lengths: (B,) on the CPU, longest first
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True)  # (B, T, C) packed
        _, h = self.rnn(packed)  # (1, B, H): the state after each message's last real token
        return self.head(h[-1])  # (B, K)


train_set = Messages(*make_messages(n_train, sample_seed=seed))
val_set = Messages(*make_messages(n_val, sample_seed=seed + 1))
train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate)
val_loader = DataLoader(val_set, batch_size=256, collate_fn=collate)
max_iters = max_epochs * len(train_loader)

model = IntentGRU().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters | {len(train_set)} messages | {max_iters} steps")


@torch.no_grad()
def accuracy(loader):
    model.eval()
    correct = 0
    for tokens, lengths, labels in loader:
        logits = model(tokens.to(device), lengths)  # (B, K)
        correct += (logits.argmax(dim=-1) == labels.to(device)).sum().item()
    model.train()
    return correct / len(loader.dataset)


model.train()
t0 = time.time()
step = 0
for epoch in range(max_epochs):
    for tokens, lengths, labels in train_loader:
        tokens, labels = tokens.to(device), labels.to(device)  # (B, T), (B,)
        loss = F.cross_entropy(model(tokens, lengths), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % log_interval == 0 or step == max_iters - 1:
            print(f"step {step:4d} | loss {loss.item():.4f}")
        step += 1

print(f"{max_iters} steps in {time.time() - t0:.1f}s | val accuracy {accuracy(val_loader):.3f}")
