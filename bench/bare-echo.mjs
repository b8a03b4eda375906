// Baseline: the bare express JSON echo a user would write by hand.
import express from 'express';

const app = express();
app.use(express.json({ limit: '6mb' }));
app.post('/echo', (req, res) => res.json(req.body));
app.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
