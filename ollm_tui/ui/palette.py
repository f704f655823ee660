"""Command palette entries for models and context tiers ("model: …", "context: …")."""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("model: switch model…", "pick_model", "Pick another model; it reloads at its auto tier."),
    ("context: choose context size…", "pick_tier", "Pick a context tier; the model reloads."),
)
"""(palette text, app action, help) for each command."""


class ModelCommands(Provider):
    """The model and tier pickers, reachable from the command palette."""

    async def discover(self) -> Hits:
        for text, action, help_text in COMMANDS:
            yield DiscoveryHit(text, self._runner(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, action, help_text in COMMANDS:
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._runner(action), help=help_text)

    def _runner(self, action: str):
        async def run() -> None:
            await self.app.run_action(action)

        return run
