-- vector 0.8.0: an alias of hybridsearch.  It creates no objects: the
-- version says which pgvector release's SQL surface hybridsearch matches.
-- Everything comes from the required extension hybridsearch; dropping this
-- one leaves hybridsearch and its objects in place.

\echo Use "CREATE EXTENSION vector" to load this file. \quit
