// The record enricher of the Firehose tutorials in Node.js: adds "enriched": true and a newline.
// Deploy to AWS Lambda as is (handler enricher.handler) or run under hydrant with worker.js.
exports.handler = async (event) => ({
  records: event.records.map((rec) => {
    try {
      const obj = JSON.parse(Buffer.from(rec.data, 'base64').toString('utf8'));
      obj.enriched = true;
      obj.stream = event.deliveryStreamArn.split('/').pop();
      return { recordId: rec.recordId, result: 'Ok',
               data: Buffer.from(JSON.stringify(obj) + '\n').toString('base64') };
    } catch (e) {
      return { recordId: rec.recordId, result: 'ProcessingFailed', data: rec.data };
    }
  }),
});
