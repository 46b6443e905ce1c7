# bhc-arenactl (filled in by its owner)
