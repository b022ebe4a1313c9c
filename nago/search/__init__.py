"""A search: its spec (the GeneratorSearch document), the ledger of its trials, the engine (a pure step from
events to actions), which results it returns (`selection`, `status`, `report`), and the local runner. Imports
torch only through a proposer that needs it (`nago.bo.registry`)."""
