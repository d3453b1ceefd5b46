/**
 * The durable {@link dev.herald.server.spi.EventLog} on SQLite: {@link
 * dev.herald.sqlite.SqliteEventLog}.
 */
package dev.herald.sqlite;
