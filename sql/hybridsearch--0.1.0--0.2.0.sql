/* hybridsearch 0.1.0 -> 0.2.0: ALTER EXTENSION hybridsearch UPDATE */
-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hybridsearch UPDATE TO '0.2.0'" to load this file. \quit

-- A fresh CREATE EXTENSION runs hybridsearch--0.1.0.sql and then this
-- script, so every object added since 0.1.0 is defined here once.
