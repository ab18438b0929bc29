"""The shared model repository: the store on disk, uploads, archives, imports, and what
reaches every replica."""
