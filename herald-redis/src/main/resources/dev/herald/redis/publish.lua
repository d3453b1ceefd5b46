-- Appends a batch (see append.lua). KEYS and ARGV as append's K and A.
return append(KEYS, ARGV)
