"""Generation: the chat model, prompt assembly and the grounded answer pipeline."""
