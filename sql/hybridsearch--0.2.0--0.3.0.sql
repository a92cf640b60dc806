/* hybridsearch 0.2.0 -> 0.3.0: ALTER EXTENSION hybridsearch UPDATE */
-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hybridsearch UPDATE TO '0.3.0'" to load this file. \quit

-- A fresh CREATE EXTENSION runs hybridsearch--0.1.0.sql, then
-- hybridsearch--0.1.0--0.2.0.sql, then this script: every object added
-- since 0.2.0 is defined here once.
