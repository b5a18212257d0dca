// Where `charrnn serve` and `train --serve` listen unless told otherwise: apart from the server
// so that the command line can name them without loading the server.
export const DEFAULT_PORT = 8000;
export const DEFAULT_HOST = '127.0.0.1';
