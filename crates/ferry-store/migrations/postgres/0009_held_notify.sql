-- A hint on the channel `ferry_held` whenever what the nodes hold, or which nodes live and
-- take work, changes: nodes refresh their view at once instead of at their next
-- reconcile. Only a hint: a node whose LISTEN connection was lost reloads everything when
-- it is back, and every node reconciles periodically anyway. Lease renewals (which change
-- only `lease_until`) send nothing, or every node would wake every node every second.
CREATE FUNCTION ferry_held_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('ferry_held', TG_TABLE_NAME);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER held_sessions_changed AFTER INSERT OR UPDATE OR DELETE ON held_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_held_changed();
CREATE TRIGGER held_names_changed AFTER INSERT OR UPDATE OR DELETE ON held_names
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_held_changed();
CREATE TRIGGER nodes_changed AFTER INSERT OR DELETE OR UPDATE OF state, epoch ON nodes
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_held_changed();
