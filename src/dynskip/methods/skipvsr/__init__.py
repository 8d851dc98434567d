"""SkipVSR v2: BasicVSR whose trunks reuse the flow-aligned hidden state on unchanged LR patches."""
