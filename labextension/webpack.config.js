// Module ids are the modules' names relative to the extension, not hashes: webpack's
// deterministic ids hash the container entry's identifier, which holds the absolute paths of the
// exposed modules, so the built files would depend on where the repository is checked out (and
// CI's rebuild would differ from the committed one).
module.exports = { optimization: { moduleIds: 'named' } };
