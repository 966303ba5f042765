"""The message list: model, rows, columns, sorting, filtering, coalescing."""
