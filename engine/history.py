"""How much of a conversation a follow-up question sees, in one place (counted in exchanges: a question
and its answer).

The chat hands the engine its last ``HISTORY_TURNS`` exchanges; the model rewrites a follow-up into a
standalone question from the last ``REWRITE_TURNS`` of them (each answer cut to ``REWRITE_ANSWER_CHARS``),
and the answer prompt shows the last ``PROMPT_TURNS`` in full. Small models lose the question in a long
transcript, and every token of history delays the first token of the answer.
"""

from __future__ import annotations

HISTORY_TURNS = 4  # exchanges the chat passes along with a question
REWRITE_TURNS = 3  # exchanges the model reads to rewrite a follow-up question
REWRITE_ANSWER_CHARS = 600  # characters of each earlier answer the rewrite reads
PROMPT_TURNS = 2  # exchanges the answer prompt repeats before the question
