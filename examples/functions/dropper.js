// Drops ("action": "drop") and fails ("action": "fail") records on purpose; passes the rest with a
// newline and, for records with a "customer" string, metadata.partitionKeys.customer.
exports.handler = async (event) => ({
  records: event.records.map((rec) => {
    const raw = Buffer.from(rec.data, 'base64');
    let obj = {};
    try { obj = JSON.parse(raw.toString('utf8')); } catch (e) { obj = {}; }
    if (obj && obj.action === 'drop') return { recordId: rec.recordId, result: 'Dropped' };
    if (obj && obj.action === 'fail') return { recordId: rec.recordId, result: 'ProcessingFailed', data: rec.data };
    let text = raw.toString('latin1').replace(/\n+$/, '') + '\n';
    const r = { recordId: rec.recordId, result: 'Ok', data: Buffer.from(text, 'latin1').toString('base64') };
    if (obj && typeof obj.customer === 'string') r.metadata = { partitionKeys: { customer: obj.customer } };
    return r;
  }),
});
