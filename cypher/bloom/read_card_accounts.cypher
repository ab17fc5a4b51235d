// Bloom: "accounts using card token $t". The payment instrument, the accounts that paid with
// it, and the operators the current run placed them with.
MATCH (c:PaymentInstrument {instrument_id: $t})<-[r:PAID_WITH]-(a:Account)
OPTIONAL MATCH (run:AttributionRun {current: true})
OPTIONAL MATCH (a)-[at:ATTRIBUTED_TO]->(o:Operator)
WHERE at.run_id = run.run_id
RETURN c, r, a, at, o
